"""The service's settings and its keys (flags, then environment, then generated and kept in the data dir)."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .gateway.faults import Faults
from .tiers import DEFAULT_TIER, TIERS, Tier

MB = 1024 * 1024
KEYS_FILE = "keys.json"


@dataclass
class Settings:
    data_dir: Path
    training_key: str
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


def load_keys(data_dir: Path, training_key: str | None,
              prediction_key: str | None) -> tuple[str, str, bytes, dict[str, str]]:
    """(training key, prediction key, signing secret, where each key came from: flag, env, generated or file).

    Keys given as flags or CVLOCAL_* variables win; otherwise the keys kept in the data dir (mode 0600) are
    used, or new ones are made and kept there.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEYS_FILE
    kept = json.loads(path.read_text()) if path.exists() else {}
    generated = not kept
    kept.setdefault("trainingKey", secrets.token_hex(16))
    kept.setdefault("predictionKey", secrets.token_hex(16))
    kept.setdefault("signingSecret", secrets.token_hex(32))
    if generated:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(kept, f)
    os.chmod(path, 0o600)
    sources, keys = {}, {}
    for kind, given, variable in (("training", training_key, "CVLOCAL_TRAINING_KEY"),
                                  ("prediction", prediction_key, "CVLOCAL_PREDICTION_KEY")):
        if given:
            keys[kind], sources[kind] = given, "flag"
        elif os.environ.get(variable):
            keys[kind], sources[kind] = os.environ[variable], "env"
        else:
            keys[kind], sources[kind] = kept[f"{kind}Key"], "generated" if generated else "file"
    if keys["training"] == keys["prediction"]:
        raise ValueError("The training key and the prediction key must differ.")
    return keys["training"], keys["prediction"], bytes.fromhex(kept["signingSecret"]), sources
