"""The service's settings and its keys (flags, then environment, then kept in the data dir)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .gateway.faults import Faults
from .tiers import DEFAULT_TIER, TIERS, Tier
from .store.keyfile import KINDS, KeyFile, LiveKeys, check_key, field_name

MB = 1024 * 1024


@dataclass
class Settings:
    data_dir: Path
    training_key: str              # key 1 of each kind, as the service started
    prediction_key: str
    signing_secret: bytes
    max_training_image_bytes: int = 6 * MB
    max_prediction_image_bytes: int = 4 * MB
    max_images_per_batch: int = 64
    max_tags_per_batch: int = 20
    export_link_lifetime_s: float = 24 * 3600
    allow_private_urls: bool = False
    url_timeout_s: float = 10.0
    faults: Faults = field(default_factory=Faults)
    tier: Tier = TIERS[DEFAULT_TIER]  # Azure's quotas and request rates of a pricing tier (cvlocal/tiers)
    keys: LiveKeys | None = None   # every key, as kept now (key 2s, regenerated keys); None: the two above only


@dataclass(frozen=True)
class LoadedKeys:
    training_key: str               # key 1 of each kind
    prediction_key: str
    signing_secret: bytes
    sources: dict[str, str]         # kind -> flag, env, generated (just now, so shown once) or file
    live: LiveKeys
    key_file: KeyFile


def load_keys(data_dir: Path, training_key: str | None, prediction_key: str | None) -> LoadedKeys:
    """The keys to serve with. A key given as a flag or CVLOCAL_* variable stands for key 1 of its kind; every
    other key is the one kept in the data dir (keys.json, mode 0600), made there on first start. A key shorter
    than MIN_KEY_LENGTH, or one that is a key of the other kind too, is refused (ValueError: what to fix)."""
    key_file = KeyFile(data_dir)
    kept, generated = key_file.open()
    sources, overrides = {}, {}
    for kind, given, variable in (("training", training_key, "CVLOCAL_TRAINING_KEY"),
                                  ("prediction", prediction_key, "CVLOCAL_PREDICTION_KEY")):
        if given:
            overrides[kind], sources[kind] = check_key(f"--{kind}-key", given), "flag"
        elif os.environ.get(variable):
            overrides[kind], sources[kind] = check_key(variable, os.environ[variable]), "env"
        else:
            sources[kind] = "generated" if generated else "file"
    for kind in KINDS:
        for number in (1, 2):
            if number == 2 or kind not in overrides:
                check_key(f"{field_name(kind, number)} of {key_file.path}", kept[field_name(kind, number)])
    live = LiveKeys(key_file, overrides)
    keys = live.current()
    if set(keys.training) & set(keys.prediction):
        raise ValueError("A training key and a prediction key must differ.")
    return LoadedKeys(training_key=keys.training[0], prediction_key=keys.prediction[0],
                      signing_secret=bytes.fromhex(kept["signingSecret"]), sources=sources, live=live,
                      key_file=key_file)


def service_version() -> str:
    try:
        return version("cvops")  # the distribution cvlocal ships in
    except PackageNotFoundError:  # a source tree never installed
        return "unknown"
