"""What handlers share: the services (as a FastAPI dependency), where the client reached us, images at URLs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from .. import errors
from ..net.bodies import image_url_body
from ..net.fetch import UrlFetcher, UrlRejected
from ..serving.predictor import Predictor
from ..settings import Settings
from ..store import Store
from ..training.export import Exporter
from ..training.performance import Performance
from ..training.queue import TrainingQueue
from ..transfer.importer import Importer
from ..transfer.tokens import TokenSigner
from .links import Links


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    links: Links
    training: TrainingQueue
    performance: Performance
    exporter: Exporter
    predictor: Predictor
    fetcher: UrlFetcher
    tokens: TokenSigner    # import tokens: export_project signs them, import_project and peers check them
    importer: Importer


def get_services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(get_services)]


def base_url(request: Request) -> str:
    """Where this service is reachable, as the client addressed it (for download links)."""
    return str(request.base_url).rstrip("/")


async def image_at(svc: Services, request: Request) -> bytes:
    """The image at the URL the body names (`{"url": ...}`), fetched under the SSRF rules."""
    url = await image_url_body(request)
    try:
        return await run_in_threadpool(svc.fetcher.fetch, url, svc.settings.max_prediction_image_bytes)
    except UrlRejected as exc:
        raise errors.bad_request(str(exc), "BadRequestImageUrl")
