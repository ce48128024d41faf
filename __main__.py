"""Pulumi program: one stack's Custom Vision accounts, or with `mode: self-hosted` the self-hosted service
(config in Pulumi.<stack>.yaml)."""
import pulumi

from infra.config import load_args

args = load_args()
if args.mode == "self-hosted":
    from infra.self_hosted.component import SelfHosted

    stack = SelfHosted("self-hosted", args)
else:
    from infra.custom_vision import CustomVision

    stack = CustomVision("custom-vision", args)

for output_name, value in stack.outputs().items():
    pulumi.export(output_name, value)
