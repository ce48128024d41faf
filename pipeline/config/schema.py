"""Print the JSON Schema of the pipeline config (`make schema` writes it to config/schema.json)."""
from __future__ import annotations

import json

from pipeline.config.model import PipelineConfig


def schema() -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **PipelineConfig.model_json_schema(by_alias=True)}


if __name__ == "__main__":
    print(json.dumps(schema(), indent=2))
