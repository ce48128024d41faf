"""Pulumi program: the Custom Vision accounts of one stack (config in Pulumi.<stack>.yaml)."""
import pulumi

from infra.config import load_args
from infra.custom_vision import CustomVision

custom_vision = CustomVision("custom-vision", load_args())

for output_name, value in custom_vision.outputs().items():
    pulumi.export(output_name, value)
