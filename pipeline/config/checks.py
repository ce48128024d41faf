"""Reference checks of a loaded config, without any network: the dataset and smoke-test files exist, the
dataset is trainable and within the tier's limits (when `service.tier` is known), and every tag the config
names is a tag of the dataset (tag names match case-insensitively, as Custom Vision's do). Errors name file
and line."""
from __future__ import annotations

import difflib
from pathlib import Path

from pipeline.config.loader import LoadedConfig
from pipeline.config.model import BOX_LAYOUTS
from pipeline.config.settings import SETTINGS
from pipeline.dataset import Dataset, local_root, require_images, scan, validate
from pipeline.errors import ConfigError, DatasetError
from pipeline.sdk.images import is_url
from pipeline.sdk.tiers import tier as tier_named


def check(loaded: LoadedConfig, offline: bool = False) -> Dataset | None:
    """The scanned, validated dataset; raises ConfigError (with every problem, one a line) or DatasetError.

    `offline` (cvops validate) never downloads: a `dataset.url` not in the cache yet gives None."""
    config, source = loaded.config, loaded.source
    where = ("dataset", "url" if config.dataset.url else "container" if config.dataset.container else "path")
    try:
        root = local_root(config.dataset, allow_download=not offline)
    except (DatasetError, ConfigError) as exc:  # ConfigError: a blob container's credential settings
        raise DatasetError(f"{source.file}:{source.line(where)}: {exc}") from None
    other_type = project_type_problems(loaded)
    errors: list[ConfigError] = list(other_type)
    for setting in SETTINGS:
        if setting.needed_to and not getattr(config.service, setting.field):
            name, variable = setting.field, setting.variable
            errors.append(source.error(("service", name), f"not set (needed to {setting.needed_to}): write "
                                                          f"`{name}: ${{{variable}}}` and set {variable}, "
                                                          "or use --stack NAME"))
    path = root if root is not None else Path(".")
    wanted = "folder" if config.dataset.layout in ("folder-per-tag", "pascal-voc", "yolo") else "file"
    exists = root is None or (path.is_dir() if wanted == "folder" else path.is_file())
    if not exists:
        hint = "" if path.parent.exists() else " (its parent folder is missing too: is CVOPS_DATASETS right?)"
        errors.append(source.error(("dataset", "path"), f"no such {wanted}: {path}{hint}"))
    for index, test in enumerate(config.smoke_test):
        if not is_url(test.image) and not Path(test.image).is_file():
            errors.append(source.error(("smoke_test", index, "image"), f"no such file: {test.image}"))
    if not exists or (root is None and errors) or other_type:
        raise _combined(errors)  # settings of the other project type: the dataset would be read wrongly
    if root is None:
        return None
    try:
        dataset = scan(config.dataset.model_copy(update={"path": root}), config.tag_name, config.detection)
        require_images(dataset)
    except DatasetError as exc:
        raise DatasetError(f"{source.file}:{source.line(where)}: {exc}") from None
    tags = set(dataset.tags)
    folded = {t.casefold() for t in tags}
    for key in config.dataset.tag_names:
        if key not in dataset.source_tags:
            near = _near(key, dataset.source_tags)
            errors.append(source.error(("dataset", "tag_names", key),
                                       f"no folder or manifest tag {key!r} in the dataset{near}"))
    for tag in config.gates.per_tag:
        if tag.casefold() not in folded:
            errors.append(source.error(("gates", "per_tag", tag), f"no tag {tag!r} in the dataset{_near(tag, tags)}"))
    for index, test in enumerate(config.smoke_test):
        if test.expect.casefold() not in folded:
            errors.append(source.error(("smoke_test", index, "expect"),
                                       f"no tag {test.expect!r} in the dataset{_near(test.expect, tags)}"))
    if errors:
        raise _combined(errors)
    try:
        validate(dataset, config.project.classification_type)
    except DatasetError as exc:
        raise DatasetError(f"{source.file}:{source.line(where)}: {exc}") from None
    _within_tier(loaded, dataset)
    return dataset


def project_type_problems(loaded: LoadedConfig) -> list[ConfigError]:
    """Settings that belong to the other project type (boxes on a classification project, mAP on one...)."""
    config, source = loaded.config, loaded.source
    layout, errors = config.dataset.layout, []
    if config.detection:
        if layout in ("folder-per-tag", "label-files"):
            errors.append(source.error(("dataset", "layout"), f"an ObjectDetection project needs boxes and "
                                                              f"layout {layout} has none: use pascal-voc, coco, "
                                                              "yolo, or a JSON manifest with regions"))
        if config.gates.average_precision is not None:
            errors.append(source.error(("gates", "average_precision"), "an object detection project's is "
                                       "gates.mean_average_precision (per tag: gates.per_tag.TAG.average_precision)"))
        if config.gates.suspects is not None:
            errors.append(source.error(("gates", "suspects"), "suspect labels are classification's (a tag's "
                                       "probability per image): an object detection project has no such gate"))
        return errors
    if layout in BOX_LAYOUTS:
        errors.append(source.error(("dataset", "layout"), f"layout {layout} holds boxes: set project.type: "
                                                          "ObjectDetection"))
    if config.gates.mean_average_precision is not None:
        errors.append(source.error(("gates", "mean_average_precision"), "is for ObjectDetection projects "
                                                                        "(classification: gates.average_precision)"))
    for index, test in enumerate(config.smoke_test):
        for key in ("box", "count"):
            if getattr(test, key) is not None:
                errors.append(source.error(("smoke_test", index, key), f"`{key}` is for ObjectDetection projects"))
    return errors


def _within_tier(loaded: LoadedConfig, dataset: Dataset) -> None:
    """Refuse, before anything is uploaded, a dataset the tier's project cannot hold."""
    tier = tier_named(loaded.config.service.tier)
    if tier is None:
        return
    problems = []
    if len(dataset.images) > tier.images_per_project:
        problems.append(f"{len(dataset.images):,} images; a {tier.name} project holds at most "
                        f"{tier.images_per_project:,} (remove {len(dataset.images) - tier.images_per_project:,})")
    if len(dataset.tags) > tier.tags_per_project:
        problems.append(f"{len(dataset.tags):,} tags; a {tier.name} project holds at most {tier.tags_per_project:,}"
                        f" (remove {len(dataset.tags) - tier.tags_per_project:,})")
    if problems:
        source = loaded.source
        other = " or use the S0 tier" if tier.name == "F0" else ""
        raise DatasetError(f"{source.file}:{source.line(('service', 'tier'))}: the dataset is over the limits of "
                           f"service.tier {tier.name}: " + "; ".join(problems) + f": make it smaller{other}")


def _near(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    listed = ", ".join(sorted(choices))
    return f" (did you mean {close[0]!r}? tags: {listed})" if close else f" (tags: {listed})"


def _combined(errors: list[ConfigError]) -> ConfigError:
    combined = ConfigError("\n".join(str(e) for e in errors))
    combined.file, combined.line = errors[0].file, errors[0].line
    return combined
