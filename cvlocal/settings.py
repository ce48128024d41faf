"""The service's settings and its keys (flags, then environment, then kept in the data dir; in cluster mode
flags and environment only)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .gateway.faults import Faults
from .tiers import DEFAULT_TIER, TIERS, Tier
from .store.keyfile import KINDS, FixedKeys, KeyFile, LiveKeys, ServiceKeys, check_key, field_name

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
    import_from: tuple[str, ...] = ()     # exporting services import_project may fetch from (transfer/peers.py)
    url_timeout_s: float = 10.0
    faults: Faults = field(default_factory=Faults)
    tier: Tier = TIERS[DEFAULT_TIER]  # Azure's quotas and request rates of a pricing tier (cvlocal/tiers)
    keys: LiveKeys | FixedKeys | None = None  # every key, as kept now (key 2s, regenerated keys); None: the two above only
    # Where the data is (store/__init__.open_store): None keeps it in data_dir (SQLite, blobs/).
    database: str | None = None           # postgresql://...: shared by replicas (cluster mode)
    blobs: str | None = None              # azureblob://ACCOUNT/CONTAINER[/PREFIX], or a folder
    training_workers: int = 1             # trainings this process runs at once
    training_lease_s: float = 30.0        # cluster mode: a dead replica's training is taken over after this
    feature_cache: Path | None = None     # a feature folder shared with other services (training/feature_folder.py)
    precision: str = "fp32"               # the backbones new iterations train on: "int8" (model/quantised.py)


@dataclass(frozen=True)
class LoadedKeys:
    training_key: str               # key 1 of each kind
    prediction_key: str
    signing_secret: bytes
    sources: dict[str, str]         # kind -> flag, env, generated (just now, so shown once) or file
    live: LiveKeys | FixedKeys
    key_file: KeyFile | None        # None in cluster mode: no keys are kept in a data dir


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


SIGNING_SECRET_VARIABLE = "CVLOCAL_SIGNING_SECRET"


def key2_variable(kind: str) -> str:
    return f"CVLOCAL_{kind.upper()}_KEY2"


def cluster_keys(training_key: str | None, prediction_key: str | None) -> LoadedKeys:
    """Cluster mode (a database that replicas share): what `load_keys` returns, from flags and CVLOCAL_*
    variables only. Every replica must accept the same keys and sign links with the same secret (a link one
    replica made is followed on another), so nothing is generated per replica and nothing is kept in a data dir;
    a Kubernetes Secret or the compose file's environment gives each replica the same values. Key 1 of a kind
    is its flag or CVLOCAL_<KIND>_KEY, as without a database; key 2 is CVLOCAL_<KIND>_KEY2 (optional: without it
    the kind has key 1 only). Rotation is Azure's, done by a rolling restart (docs/scale.md)."""
    given = {"training": training_key, "prediction": prediction_key}
    sources, pairs, missing = {}, {}, []
    for kind in KINDS:
        variable = f"CVLOCAL_{kind.upper()}_KEY"
        key1 = given[kind] or os.environ.get(variable)
        sources[kind] = "flag" if given[kind] else "env"
        if not key1:
            missing.append(f"--{kind}-key or ${variable}")
            continue
        key2 = os.environ.get(key2_variable(kind))
        pairs[kind] = (check_key(f"--{kind}-key" if given[kind] else variable, key1),
                       *((check_key(key2_variable(kind), key2),) if key2 else ()))
    secret = os.environ.get(SIGNING_SECRET_VARIABLE, "")
    if not secret:
        missing.append(f"${SIGNING_SECRET_VARIABLE}")
    if missing:
        raise ValueError(f"with a shared --database every replica needs the same keys and signing secret: give "
                         f"{', '.join(missing)} (e.g. `openssl rand -hex 32` for the secret), the same on each")
    try:
        signing_secret = bytes.fromhex(secret)
    except ValueError:
        signing_secret = b""
    if len(signing_secret) < 16:
        raise ValueError(f"${SIGNING_SECRET_VARIABLE} must be at least 32 hex digits (`openssl rand -hex 32`)")
    keys = ServiceKeys(training=pairs["training"], prediction=pairs["prediction"])
    if set(keys.training) & set(keys.prediction):
        raise ValueError("A training key and a prediction key must differ.")
    return LoadedKeys(training_key=keys.training[0], prediction_key=keys.prediction[0],
                      signing_secret=signing_secret, sources=sources, live=FixedKeys(keys), key_file=None)


def service_version() -> str:
    try:
        return version("cvops")  # the distribution cvlocal ships in
    except PackageNotFoundError:  # a source tree never installed
        return "unknown"
