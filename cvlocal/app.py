"""The FastAPI application: routers, the gateway in front, and one place that turns errors into JSON."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import errors
from .api import downloads, images, iterations, prediction, projects, tags
from .api.deps import Services
from .gateway import Gateway
from .links import Links
from .portal import MOUNT_PATH as PORTAL_PATH, mount_portal, wants_portal
from .predictor import Predictor
from .settings import Settings
from .store import Store
from .training import Trainer
from .urlfetch import UrlFetcher

log = logging.getLogger("cvlocal")
STATUS_CODES = {404: "NotFound", 405: "BadRequestNotSupported", 413: "BadRequestImageSizeBytes",
                415: "UnsupportedMediaType"}


def _json_error(error: errors.CustomVisionError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {e.get('msg')}")
    return "Invalid request: " + "; ".join(parts)


def create_app(settings: Settings) -> FastAPI:
    store = Store(settings.data_dir)
    trainer = Trainer(store, settings.export_link_lifetime_s)
    services = Services(settings=settings, store=store, links=Links(settings.signing_secret), trainer=trainer,
                        predictor=Predictor(store, settings.max_prediction_image_bytes),
                        fetcher=UrlFetcher(settings.allow_private_urls, settings.url_timeout_s))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        trainer.start()
        yield
        trainer.stop()

    app = FastAPI(title="cvlocal: self-hosted Custom Vision", version="1.0", lifespan=lifespan,
                  description="The Azure Custom Vision training and prediction API, served locally.")
    app.state.services = services
    for module in (projects, tags, images, iterations):
        app.include_router(module.router)
    app.include_router(prediction.quick_test)
    app.include_router(prediction.prediction)
    app.include_router(downloads.router)
    mount_portal(app)

    @app.get("/", include_in_schema=False)
    def root(request: Request):
        if wants_portal(request.headers.get("accept")):
            return RedirectResponse(PORTAL_PATH + "/", status_code=303)
        return {"service": "cvlocal", "training": "/customvision/v3.4-preview/training",
                "prediction": "/customvision/v3.1/prediction"}

    @app.exception_handler(errors.CustomVisionError)
    async def custom_vision_error(request: Request, exc: errors.CustomVisionError):
        return _json_error(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _json_error(errors.bad_request(_describe(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "The request could not be served."
        if exc.status_code == 404:
            message = f"No route {request.method} {request.url.path}."
        elif exc.status_code == 405:
            message = f"{request.method} is not supported on {request.url.path}."
        return _json_error(errors.CustomVisionError(exc.status_code, STATUS_CODES.get(exc.status_code, "BadRequest"),
                                                    message))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _json_error(errors.internal(f"An unexpected error occurred ({type(exc).__name__})."))

    return Gateway(app, settings, services), app
