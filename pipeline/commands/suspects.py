"""`cvops suspects CONFIG [--iteration ITERATION] [--min-score S] [--top N] [--all]`: the training images whose label
looks wrong to the iteration's held-out predictions (default: the published iteration), most suspect first,
each with its dataset file, given tag, suggested tag and score. Suggestions only: nothing is changed."""
from __future__ import annotations

from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.errors import InputError
from pipeline.insight import iterations as choosing
from pipeline.insight.analysis import analyse, namer
from pipeline.insight.suspects import SCORE
from pipeline.insight.trained import content_keys, files_by_key, read_dataset
from pipeline.insight.versions import manifests_folder
from pipeline.sdk.clients import training_client
from pipeline.steps.project import require_project
from pipeline.steps.sync import read_project


def suspects(loaded: LoadedConfig, wanted: str | None, min_score: float, top: int | None,
             every: bool = False) -> dict[str, Any]:
    config = loaded.config
    if config.detection:
        raise InputError(f"{loaded.source.file}: suspect labels are classification's (a tag's probability per image); "
                         "an object detection project's held-out boxes are in `cvops status --confusion`")
    dataset = read_dataset(loaded)
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    iteration = choosing.choose(trainer, project, trainer.get_iterations(project.id), wanted, config.publish.name)
    keys = content_keys(read_project(trainer, project.id).images)
    insight = analyse(trainer, project.id, iteration, config.project.classification_type == "Multilabel",
                      config.evaluation.threshold, namer(keys, files_by_key(dataset)), min_score, every,
                      kept=manifests_folder(config))
    listed = insight.suspects if top is None else insight.suspects[:top]
    return {"project": {"name": project.name, "id": project.id},
            "iteration": {"name": iteration.name, "id": iteration.id,
                          "published_as": getattr(iteration, "publish_name", None) or None},
            "score": SCORE, "min_score": min_score, "every": every, "held_out_images": len(insight.held_out.images),
            "trained_images": insight.trained_images, "count": len(insight.suspects),
            "suspects": [s.to_dict() for s in listed]}
