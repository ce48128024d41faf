"""Wiring only: the store, the training queue, the predictor and the rest, the FastAPI app, the gateway in front."""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from .api import health
from .api.application import build_api
from .api.deps import Services
from .api.links import Links
from .api.prediction import OPERATIONS
from .gateway import Gateway
from .gateway.direct import DirectRoutes
from .gateway.keys import KEY_HEADERS, Keys
from .model.backbone import BACKBONE_NAME, at_precision
from .model.quantised import keep_graphs_in
from .net.fetch import UrlFetcher
from .serving.predictor import Predictor
from .settings import Settings
from .store import open_store
from .tiers import RateLimiter
from .store.keyfile import FixedKeys, ServiceKeys
from .training.export import Exporter
from .training.feature_folder import FeatureFolder
from .training.performance import Performance
from .training.queue import training_queue
from .transfer.importer import Importer
from .transfer.peers import Peers
from .transfer.tokens import TokenSigner


@dataclass(frozen=True)
class App:
    asgi: Gateway          # what the server runs: the gateway, in front of `api`
    api: FastAPI           # the FastAPI application alone (its routes, the OpenAPI document)
    services: Services


def create_app(settings: Settings) -> App:
    store = open_store(settings.data_dir, settings.database, settings.blobs)
    predictor = Predictor(store, settings.max_prediction_image_bytes)
    keep_graphs_in(settings.data_dir / "backbones")  # int8 graphs, built once, kept for the next start
    training = training_queue(store, settings.training_workers, settings.training_lease_s,
                              settings.faults.train_delay_s,
                              FeatureFolder(settings.feature_cache) if settings.feature_cache else None,
                              settings.precision)
    tokens = TokenSigner(settings.signing_secret)
    importer = Importer(store, tokens, Peers(settings.import_from, settings.url_timeout_s),
                        settings.max_training_image_bytes, settings.tier)
    services = Services(settings=settings, store=store, links=Links(settings.signing_secret), training=training,
                        performance=Performance(store),
                        exporter=Exporter(store, settings.export_link_lifetime_s), predictor=predictor,
                        fetcher=UrlFetcher(settings.allow_private_urls, settings.url_timeout_s),
                        tokens=tokens, importer=importer)
    api = build_api(services)
    api.include_router(health.router)  # /health and /ready: no key, outside the Custom Vision routes
    # builds the backbone when first asked; a cluster's replica writes no data dir of its own
    api.state.readiness = health.Readiness(store, None if settings.database else settings.data_dir,
                                           at_precision(BACKBONE_NAME, settings.precision))
    keys = settings.keys or FixedKeys(ServiceKeys((settings.training_key,), (settings.prediction_key,)))
    gateway = Gateway(api, Keys(keys), settings.faults, DirectRoutes(OPERATIONS, context=predictor),
                      RateLimiter(settings.tier, KEY_HEADERS) if settings.tier.limits_rates else None)
    return App(asgi=gateway, api=api, services=services)
