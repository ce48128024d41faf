"""After an import, optionally: train, gate and publish with the pipeline's own steps (steps/train.py, gates.py,
smoke.py, publish.py). The gates, the evaluation threshold, the training settings, the smoke tests, the
published name and the upload batches can come from a pipeline config (`--gates CONFIG`); its other sections
(project, service, dataset) are not used."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig, TrainingConfig, UploadConfig
from pipeline.config.settings import SETTINGS
from pipeline.errors import EXIT_GATE_FAILED, ConfigError
from pipeline.steps import gates as gate_checks
from pipeline.steps.performance import read_performance
from pipeline.steps.publish import make_room, prune, publish, published_under
from pipeline.steps.smoke import smoke_test
from pipeline.steps.train import train
from pipeline.transfer.remote import THRESHOLD


@dataclass
class TrainingPlan:
    train: bool = False
    publish_name: str | None = None
    config: PipelineConfig | None = None  # the pipeline config that --gates names

    @property
    def upload(self) -> UploadConfig | None:
        """The config's upload batches, if a config was named (else the pipeline's defaults)."""
        return self.config.upload if self.config else None

    @property
    def wanted(self) -> bool:
        return self.train or self.publish_name is not None or self.config is not None


def plan_training(train_flag: bool, publish_name: str | None, gates_config: str | None) -> TrainingPlan:
    config = None
    if gates_config:
        from pipeline.config.loader import load_config
        # Only the quality bar is read: unset service variables must not stop it (the target is --to's).
        environ = {**{setting.variable: "" for setting in SETTINGS}, **os.environ}
        config = load_config(Path(gates_config), environ, resolve_stack=False).config
        publish_name = publish_name or config.publish.name
    return TrainingPlan(train_flag, publish_name, config)


def require_publishing(plan: TrainingPlan, prediction_resource_id: str | None, hint: str) -> None:
    """Refuse before anything changes when publishing is asked for without the prediction resource."""
    if plan.publish_name and not prediction_resource_id:
        raise ConfigError(f"publishing as {plan.publish_name!r} needs the target's prediction resource id: {hint}")


def train_and_publish(trainer: Any, project_id: str, plan: TrainingPlan, prediction_resource_id: str | None,
                      ui: Any) -> dict[str, Any]:
    """Train (or reuse the latest completed iteration), gate, publish. `exit_code` 3 when a gate failed."""
    config = plan.config
    published = published_under(trainer.get_iterations(project_id), plan.publish_name) if plan.publish_name else None
    make_room(trainer, project_id, {published.id} if published else set())
    with ui.spinner("training ...") as spinner:
        iteration, trained = train(trainer, project_id, config.training if config else TrainingConfig(), spinner)
    ui.info(f"{iteration.name}: {'trained' if trained else 'no training needed, latest completed iteration'}")
    performance = read_performance(trainer, project_id, iteration, THRESHOLD)
    outcome: dict[str, Any] = {"iteration": iteration.name, "iteration_id": iteration.id, "trained": trained,
                               "performance": performance.to_dict(), "gates": [], "published": None, "exit_code": 0}
    if config is not None:
        threshold = config.evaluation.threshold
        overlap = config.evaluation.overlap_threshold if config.detection else None
        candidate = performance if threshold == THRESHOLD and overlap is None else read_performance(
            trainer, project_id, iteration, threshold, overlap)
        before = None
        if published is not None and published.id != iteration.id and config.gates.no_regression:
            before = read_performance(trainer, project_id, published, threshold, overlap)
        results = gate_checks.evaluate(config.gates, candidate, before)
        if config.smoke_test:
            results += smoke_test(trainer, project_id, iteration.id, config.smoke_test, threshold, config.detection)
        outcome["gates"] = [result.to_dict() for result in results]
        for result in results:
            ui.info(f"gate {'pass' if result.passed else 'FAIL'}: {result.describe()}")
        failed = gate_checks.failed(results)
        if failed:
            outcome["exit_code"] = EXIT_GATE_FAILED
            outcome["message"] = (f"{len(failed)} gate(s) failed, {iteration.name} not published: "
                                  + "; ".join(result.describe() for result in failed))
            return outcome
    if plan.publish_name:
        if published is not None and published.id == iteration.id:
            ui.info(f"{iteration.name} is already published as {plan.publish_name!r}: up to date")
        else:
            publish(trainer, project_id, iteration, plan.publish_name, prediction_resource_id, published)
            ui.info(f"published {iteration.name} as {plan.publish_name!r}")
        outcome["published"] = plan.publish_name
        if config is not None:
            outcome["deleted"] = prune(trainer, project_id, config.publish.keep_iterations, {iteration.id})
    return outcome
