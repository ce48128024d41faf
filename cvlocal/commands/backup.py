"""`cvlocal backup DEST` (while the service serves) and `cvlocal restore SRC` (into a new data directory)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..settings import service_version
from ..store import open_store
from ..store.backup import BackupError, backup, restore
from ..store.keyfile import KeyFile
from .common import add_data_dir, add_store_location, fail, size, with_store


def add_parsers(sub) -> None:
    parser = sub.add_parser("backup", help="copy the data directory consistently, while the service serves",
                            description="Copy the database (as of one moment), the blobs it names and the keys "
                                        "into the new folder DEST. Safe while the service serves.")
    parser.add_argument("destination", type=Path, metavar="DEST", help="a new (or empty) folder for the backup")
    add_data_dir(parser)
    add_store_location(parser)  # a cluster's is refused, with what backs it up instead
    parser.set_defaults(run=run_backup)
    parser = sub.add_parser("restore", help="make a new data directory from a backup",
                            description="Check the backup in SRC (its database and every blob's digest) and make "
                                        "the data directory from it; it must not exist yet, or be empty. Then "
                                        "start the service on it.")
    parser.add_argument("source", type=Path, metavar="SRC", help="a folder `cvlocal backup` wrote")
    add_data_dir(parser, "the data directory to make (default .cvlocal)")
    parser.set_defaults(run=run_restore)


def run_backup(args: argparse.Namespace) -> None:
    manifest = with_store(args, lambda store: backup(store, KeyFile(args.data_dir).path, args.destination,
                                                              service_version()))
    keys = "and the keys (keep the backup as secret as the data directory)" if manifest.keys else "(no keys.json)"
    print(f"Backed up {args.data_dir} into {args.destination}: the database as of {manifest.created}, "
          f"{manifest.blobs} blobs ({size(manifest.blob_bytes)}) {keys}.")


def run_restore(args: argparse.Namespace) -> None:
    try:
        manifest = restore(args.source, args.data_dir, open_store)
    except BackupError as exc:
        fail(str(exc))
    print(f"Restored the backup of {manifest.created} into {args.data_dir}: {manifest.blobs} blobs "
          f"({size(manifest.blob_bytes)}), every digest checked{', and the keys' if manifest.keys else ''}. Start "
          f"the service on it: cvlocal serve --data-dir {args.data_dir}")
