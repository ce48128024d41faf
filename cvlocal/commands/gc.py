"""`cvlocal gc [--dry-run]`: delete the blobs no row names any more (store/gc.py), while the service serves."""
from __future__ import annotations

import argparse

from ..store.gc import DEFAULT_GRACE_S, collect_garbage
from .common import add_data_dir, add_store_location, size, with_store


def add_parsers(sub) -> None:
    parser = sub.add_parser("gc", help="delete blobs no longer referenced (deleted images, iterations, expired "
                                       "exports, ...)",
                            description="Delete the blobs no row names any more: images of deleted images and "
                                        "projects, heads and held-out files of deleted iterations, expired exports, "
                                        "stored predictions of deleted projects. Safe while the service serves: "
                                        "blobs written within the grace period are kept.")
    add_data_dir(parser)
    add_store_location(parser)
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, metavar="SECONDS",
                        help=f"keep blobs written within this many seconds (default {DEFAULT_GRACE_S:g}; at least 60)")
    parser.set_defaults(run=run_gc)


def run_gc(args: argparse.Namespace) -> None:
    result = with_store(args, lambda store: collect_garbage(store, args.grace, args.dry_run))
    verb = "would delete" if result.dry_run else "deleted"
    print(f"{verb} {result.deleted} unreferenced blobs ({size(result.deleted_bytes)}); kept {result.referenced} "
          f"referenced ({size(result.referenced_bytes)}) and {result.young} unreferenced written within the last "
          f"{args.grace:g} s ({size(result.young_bytes)})")
    if not result.dry_run:
        print(f"deleted {result.expired_exports} expired exports and {result.leftovers} leftovers of interrupted "
              "writes")
