"""What a stack's committed config says, validated offline, as GitHub step outputs (deploy.yml appends them to
$GITHUB_OUTPUT to choose its steps): the mode, and for `mode: self-hosted` the registry, whether the stack
creates it, its login server, and the URNs a `pulumi up --target` makes first: the registry, and the deploy
identity's AcrPush on it when `principalId` names that identity (the push needs both).

  python -m infra.describe dev          (reads Pulumi.dev.yaml; a config the program would refuse fails here)

No secret is printed: the values are names, and the config of Pulumi.<stack>.yaml, which is committed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from infra.config import NAMESPACE, ConfigError, parse_args

ROOT = Path(__file__).resolve().parents[1]


def stack_file_values(stack: str, root: Path | None = None) -> dict[str, str]:
    """Pulumi.<stack>.yaml's `cvops:` values as the program sees them: strings, JSON for objects and booleans."""
    path = (root or ROOT) / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    config: dict[str, Any] = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    flat = {}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace == NAMESPACE:
            flat[name] = json.dumps(value) if isinstance(value, (dict, bool)) else str(value)
    return flat


def describe(stack: str, root: Path | None = None) -> dict[str, str]:
    root = root or ROOT
    name = stack.rsplit("/", 1)[-1]
    args = parse_args(stack_file_values(stack, root), stack=name)
    described = {"mode": args.mode}
    if args.mode == "self-hosted":
        project = yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]
        parent = f"urn:pulumi:{name}::{project}::cvops:infra:SelfHosted$"
        targets = [f"{parent}azure-native:containerregistry:Registry::self-hosted-registry"]
        if args.principal_id:
            targets.append(f"{parent}azure-native:authorization:RoleAssignment::self-hosted-registry-push")
        described |= {
            "registry": args.registry,
            "registry-server": f"{args.registry.lower()}.azurecr.io",
            "create-registry": str(args.create_registry).lower(),
            "registry-targets": "\n".join(targets),
        }
    return described


def github_output(described: dict[str, str]) -> str:
    """NAME=VALUE lines; a value of several lines in GitHub's NAME<<DELIMITER form."""
    lines = []
    for key, value in described.items():
        lines += [f"{key}<<END_OF_{key.upper()}", value, f"END_OF_{key.upper()}"] if "\n" in value \
            else [f"{key}={value}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print("usage: python -m infra.describe STACK", file=sys.stderr)
        return 2
    try:
        described = describe(argv[0])
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(github_output(described))
    return 0


if __name__ == "__main__":
    sys.exit(main())
