"""`cvops validate`: the config and the dataset, checked without any network (an archive not downloaded yet
is left unchecked: None)."""
from __future__ import annotations

from pipeline.config.checks import check
from pipeline.config.loader import LoadedConfig
from pipeline.dataset import Dataset


def validate(loaded: LoadedConfig) -> Dataset | None:
    return check(loaded, offline=True)
