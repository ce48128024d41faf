"""A Pulumi stack's outputs as the pipeline's service settings (the CUSTOM_VISION_* variables).

Reads through Pulumi's Automation API, which drives the Pulumi CLI (`pulumi stack output --json
--show-secrets --stack NAME`) for the named stack only: nothing is selected, so the stack the user has
selected in that folder stays selected. Without the CLI the error lists the variables to set by hand instead.
Key values are returned, never printed or logged.

Also a command: `python -m pipeline.config.stack STACK [--cwd DIR] -- cvops run config/groceries.yaml`
runs the command with the stack's settings in its environment and exits with its exit code.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.config.settings import SETTINGS

# Stack output (infra/custom_vision.py) -> the variable the pipeline reads.
OUTPUT_VARIABLES = {setting.output: setting.variable for setting in SETTINGS}
# Read when the stack has it: the training account's SKU (F0/S0), which sets `service.tier` (pacing, limits).
TIER_OUTPUT, TIER_VARIABLE = "trainingSku", "CUSTOM_VISION_TIER"
# Empty when the stack sets disableLocalAuth: the pipeline then signs in with Entra ID.
KEY_OUTPUTS = tuple(setting.output for setting in SETTINGS if setting.secret)


class StackOutputsUnavailable(Exception):
    """The stack's outputs cannot be read; the message says what to do instead."""


def _set_by_hand(stack: str) -> str:
    names = ", ".join(OUTPUT_VARIABLES.values())
    return (f"set these environment variables instead: {names} "
            f"(`pulumi stack output --stack {stack} --show-secrets` prints them where the CLI is)")


def service_settings(outputs: Mapping[str, Any]) -> dict[str, str]:
    """Map stack outputs (plain values or Automation API OutputValues) to CUSTOM_VISION_* variables."""
    values = {name: getattr(value, "value", value) for name, value in outputs.items()}
    missing = [name for name in OUTPUT_VARIABLES if name not in KEY_OUTPUTS and not values.get(name)]
    if missing:
        raise StackOutputsUnavailable(
            f"the stack has no {', '.join(missing)} output; deploy this project's program "
            "(`pulumi up`) to the stack first")
    settings = {variable: str(values[name]) for name, variable in OUTPUT_VARIABLES.items() if values.get(name)}
    if values.get(TIER_OUTPUT):
        settings[TIER_VARIABLE] = str(values[TIER_OUTPUT])
    return settings


def stack_outputs(stack: str, work_dir: Path | str = ".") -> dict[str, str]:
    """The CUSTOM_VISION_* settings from the outputs of `stack` of the Pulumi project in `work_dir`."""
    if shutil.which("pulumi") is None:
        raise StackOutputsUnavailable(
            f"the Pulumi CLI is not installed (no `pulumi` on PATH), so the outputs of stack {stack!r} "
            f"cannot be read; install it (https://www.pulumi.com/docs/install/) or {_set_by_hand(stack)}")
    from pulumi import automation

    try:
        # Not select_stack(...).outputs(): that runs `pulumi stack select` and changes the user's selection.
        outputs = automation.LocalWorkspace(work_dir=str(work_dir)).stack_outputs(stack)
    except automation.CommandError as exc:
        # The CLI's own message (stack not found, not logged in, ...); it never holds output values.
        detail = str(exc).strip().splitlines()
        raise StackOutputsUnavailable(
            f"reading the outputs of stack {stack!r} failed: {detail[-1] if detail else exc}; "
            f"check `pulumi login` and the stack name, or {_set_by_hand(stack)}") from None
    except FileNotFoundError as exc:
        raise StackOutputsUnavailable(f"cannot run Pulumi in {work_dir}: {exc}; {_set_by_hand(stack)}") from None
    return service_settings(outputs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.config.stack",
        description="Run a command with a Pulumi stack's outputs as CUSTOM_VISION_* variables.")
    parser.add_argument("stack", help="the Pulumi stack, e.g. dev or org/cvops/prod")
    parser.add_argument("--cwd", default=".", help="the Pulumi project folder (default: .)")
    parser.epilog = "everything after -- is the command to run"
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    try:
        settings = stack_outputs(args.stack, args.cwd)
    except StackOutputsUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not command:
        # Names only: values include keys.
        print("\n".join(sorted(settings)))
        return 0
    return subprocess.call(command, env={**os.environ, **settings})


if __name__ == "__main__":
    sys.exit(main())
