"""The Pulumi program's building blocks: stack config, the region list, the CustomVision component."""
from infra.config import ConfigError, CustomVisionArgs, load_args, parse_args
from infra.regions import CUSTOM_VISION_REGIONS

__all__ = ["CUSTOM_VISION_REGIONS", "ConfigError", "CustomVisionArgs", "load_args", "parse_args"]
