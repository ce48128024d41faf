"""The FastAPI application: every router, and one place that turns every error into Custom Vision's JSON."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors
from ..portal import MOUNT_PATH as PORTAL_PATH, mount_portal, wants_portal
from . import (artifacts, domains, downloads, exports, images, iterations, prediction, project_copies, projects,
               quicktest, regions, stored_predictions, suggestions, tags)
from .deps import Services
from .schemas.common import describe

log = logging.getLogger("cvlocal")
STATUS_CODES = {404: "NotFound", 405: "BadRequestNotSupported", 413: "BadRequestImageSizeBytes",
                415: "UnsupportedMediaType"}
ROUTERS = (domains, projects, project_copies, artifacts, tags, images, regions, suggestions, iterations, exports,
           quicktest, stored_predictions, prediction, downloads)


def _json_error(error: errors.CustomVisionError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def build_api(services: Services) -> FastAPI:
    """The routers under `/training` and `/prediction` (the gateway maps Custom Vision's URLs onto those)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.training.start()
        services.exporter.start()
        yield
        services.exporter.stop()
        services.training.stop()

    app = FastAPI(title="cvlocal: self-hosted Custom Vision", version="1.0", lifespan=lifespan,
                  description="The Azure Custom Vision training and prediction API, served locally.")
    app.state.services = services
    for module in ROUTERS:
        app.include_router(module.router)
    mount_portal(app)

    @app.get("/", include_in_schema=False)
    def root(request: Request):
        if wants_portal(request.headers.get("accept")):  # a browser: the portal; API clients keep the JSON
            return RedirectResponse(PORTAL_PATH + "/", status_code=303)
        return {"service": "cvlocal", "training": "/customvision/v3.4-preview/training",
                "prediction": "/customvision/v3.1/prediction"}

    @app.exception_handler(errors.CustomVisionError)
    async def custom_vision_error(request: Request, exc: errors.CustomVisionError):
        return _json_error(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _json_error(errors.bad_request(describe(list(exc.errors()), skip=1)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "The request could not be served."
        if exc.status_code == 404:
            return _json_error(errors.no_route(request.method, request.url.path))
        if exc.status_code == 405:
            message = f"{request.method} is not supported on {request.url.path}."
        return _json_error(errors.CustomVisionError(exc.status_code, STATUS_CODES.get(exc.status_code, "BadRequest"),
                                                    message))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _json_error(errors.internal(f"An unexpected error occurred ({type(exc).__name__})."))

    return app
