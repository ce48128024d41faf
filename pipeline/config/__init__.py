"""The pipeline's config, read once at the edge and passed down typed:

- model.py     what a config holds (pydantic models; `make schema` turns them into config/schema.json)
- settings.py  the CUSTOM_VISION_* service settings: field, environment variable, stack output, written once
- loader.py    YAML -> PipelineConfig: ${VAR} expansion, stack outputs, errors that name file and line
- checks.py    reference checks without a network: files exist, tags named in the config are the dataset's
- stack.py     a Pulumi stack's outputs as the CUSTOM_VISION_* settings (also `python -m pipeline.config.stack`)
- schema.py    the JSON Schema (`python -m pipeline.config.schema`)
"""
from pipeline.config.model import (DatasetConfig, EvaluationConfig, GatesConfig, MetricGates, NoRegressionGate,
                                   PipelineConfig, ProjectConfig, PublishConfig, ReportConfig, ServiceConfig,
                                   SmokeTest, TrainingConfig, UploadConfig)

__all__ = ["DatasetConfig", "EvaluationConfig", "GatesConfig", "MetricGates", "NoRegressionGate", "PipelineConfig",
           "ProjectConfig", "PublishConfig", "ReportConfig", "ServiceConfig", "SmokeTest", "TrainingConfig",
           "UploadConfig"]
