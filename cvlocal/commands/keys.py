"""`cvlocal keys show` and `cvlocal keys regenerate`: the two keys of each kind, kept in DATA_DIR/keys.json.

Rotation without downtime, as with Azure's key 1 and key 2: move clients to key 2, regenerate key 1, move
them back (or not), regenerate key 2. A running service reads keys.json again within a second of a change,
so the new key works and the old one stops working without a restart. Values are printed only when asked
(`--values`); nothing here is logged.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..store.keyfile import KINDS, NUMBERS, KeyFile, field_name
from .common import add_data_dir, fail, program


def add_parsers(sub) -> None:
    keys = sub.add_parser("keys", help="show or regenerate the service's keys (two of each kind)",
                          description="The training and prediction keys, two of each kind as in Azure, kept in "
                                      "DATA_DIR/keys.json (mode 0600). A running service picks up a regenerated "
                                      "key within a second, without a restart.")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    show = actions.add_parser("show", help="where the keys are (their values only with --values)")
    regenerate = actions.add_parser("regenerate", help="replace one key with a new random one")
    for parser in (show, regenerate):
        add_data_dir(parser)
    show.add_argument("--kind", choices=KINDS, help="only this kind's keys")
    show.add_argument("--key", type=int, choices=NUMBERS, help="only key 1 or key 2")
    show.add_argument("--values", action="store_true", help="print the keys themselves (with --kind and --key: "
                      "the value alone, for $(...))")
    show.set_defaults(run=run_show)
    regenerate.add_argument("--kind", choices=KINDS, required=True, help="which kind of key")
    regenerate.add_argument("--key", type=int, choices=NUMBERS, required=True, help="key 1 or key 2")
    regenerate.set_defaults(run=run_regenerate)


def _key_file(data_dir: Path) -> KeyFile:
    key_file = KeyFile(data_dir)
    if not key_file.exists():
        fail(f"{key_file.path} does not exist: the service makes it on its first start (cvlocal serve "
             f"--data-dir {data_dir}).")
    return key_file


def run_show(args: argparse.Namespace) -> None:
    key_file = _key_file(args.data_dir)
    try:
        kept = key_file.read()
    except ValueError as exc:
        fail(str(exc))
    kinds = [args.kind] if args.kind else list(KINDS)
    numbers = [args.key] if args.key else list(NUMBERS)
    if args.values and len(kinds) == 1 and len(numbers) == 1:
        print(kept.get(field_name(kinds[0], numbers[0]), ""))
        return
    print(f"Keys in {key_file.path.resolve()} (mode {key_file.path.stat().st_mode & 0o777:o}):")
    for kind in kinds:
        for number in numbers:
            name = field_name(kind, number)
            value = kept.get(name, "(not made yet: the service makes it on its next start)")
            print(f"  {kind} key {number}: {value if args.values else 'field ' + repr(name)}")
    if not args.values:
        print(f"Values: {program()} keys show --data-dir {args.data_dir} --values [--kind K --key N]. A key given to "
              "serve by flag or CVLOCAL_* variable stands for key 1 of its kind instead.")


def run_regenerate(args: argparse.Namespace) -> None:
    key_file = _key_file(args.data_dir)
    try:
        key_file.regenerate(args.kind, args.key)
    except ValueError as exc:
        fail(str(exc))
    other = 2 if args.key == 1 else 1
    print(f"{args.kind.capitalize()} key {args.key} regenerated in {key_file.path.resolve()}; the old one stops "
          f"working within a second on a running service, {args.kind} key {other} is unchanged. Read the new one "
          f"with: {program()} keys show --data-dir {args.data_dir} --kind {args.kind} --key {args.key} --values")
    if args.key == 1:
        print(f"(A service given its {args.kind} key by --{args.kind}-key or CVLOCAL_{args.kind.upper()}_KEY keeps "
              "that key as its key 1 until it restarts.)")
