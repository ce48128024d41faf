"""`cvlocal serve`: run the self-hosted Custom Vision service; `keys`, `backup`, `restore`, `gc` operate it
(cvlocal/commands/, one module each)."""
from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
from pathlib import Path

from .commands import backup, gc, keys
from .commands.common import fail
from .commands.startup import banner
from .gateway.faults import parse_faults
from .settings import Settings, cluster_keys, load_keys, service_version
from .tiers import DEFAULT_TIER, TIERS, tier_named

FEATURE_CACHE_VARIABLE = "CVLOCAL_FEATURE_CACHE"
COMMANDS = (keys, backup, gc)  # each adds its sub-commands, and runs them (args.run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvlocal", description="Self-hosted, API-compatible Azure Custom Vision "
                                     "service: trains and serves image classifiers offline.")
    parser.add_argument("--version", action="version", version=f"cvlocal {service_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the service",
                           description="Start the Custom Vision training and prediction API on HOST:PORT.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8400, help="port to listen on (default 8400)")
    serve.add_argument("--data-dir", type=Path, default=Path(".cvlocal"),
                       help="where projects, images and models are kept (default .cvlocal)")
    serve.add_argument("--training-key", help="training key 1, at least 32 characters (default: "
                       "$CVLOCAL_TRAINING_KEY, else generated and kept in the data dir, with key 2)")
    serve.add_argument("--prediction-key", help="prediction key 1, at least 32 characters (default: "
                       "$CVLOCAL_PREDICTION_KEY, else generated and kept in the data dir, with key 2)")
    serve.add_argument("--allow-private-urls", action="store_true",
                       help="let /url routes fetch images from private and loopback addresses")
    serve.add_argument("--url-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                       help="longest time fetching one image URL may take, redirects included (default 10)")
    serve.add_argument("--export-link-lifetime", type=_seconds, default=24 * 3600.0, metavar="SECONDS",
                       help="how long an export's download link, and a project export's import token, work "
                            "(default 86400: 24 hours)")
    serve.add_argument("--import-from", action="append", type=_service_url, metavar="URL",
                       help="another cvlocal whose project exports import_project may fetch, as its clients reach "
                            "it (repeat for several; default: $CVLOCAL_IMPORT_FROM, comma-separated). Tokens of "
                            "this service, and of replicas of its cluster, need none")
    serve.add_argument("--faults", default=os.environ.get("CVLOCAL_FAULTS"),
                       help='inject faults for testing clients, e.g. "429=0.2,503=0.1,latency=0.3:0.5,drop=0.05,'
                            'lost=0.05,seed=1" (see docs/reliability.md)')
    serve.add_argument("--tier", type=_tier, default=os.environ.get("CVLOCAL_TIER", DEFAULT_TIER),
                       metavar="|".join(TIERS),
                       help="enforce an Azure pricing tier's quotas and request rates, answered as Azure does "
                            f"(default {DEFAULT_TIER}: none; see docs/self-hosted.md, Tiers)")
    serve.add_argument("--forwarded-allow-ips", default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
                       metavar="IPS", help="reverse proxies trusted for X-Forwarded-Proto/-Host/-For, "
                       "comma-separated addresses or networks, '*' for any, '' for none (default: "
                       "$FORWARDED_ALLOW_IPS, else 127.0.0.1)")
    serve.add_argument("--precision", default=os.environ.get("CVLOCAL_PRECISION", "fp32"), choices=["fp32", "int8"],
                       help="the backbones new iterations train on and are served with: int8 runs them quantised, "
                            "faster on CPUs with VNNI (refused on others) at a small cost in accuracy "
                            "(docs/self-hosted.md, Precision); iterations trained before keep theirs (default: "
                            "$CVLOCAL_PRECISION, else fp32)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    cluster = serve.add_argument_group("cluster mode", "any number of replicas sharing one PostgreSQL database and "
                                       "one blob container (docs/scale.md)")
    cluster.add_argument("--database", default=os.environ.get("CVLOCAL_DATABASE"), metavar="URL",
                         help="postgresql://USER@HOST[:PORT]/DATABASE: metadata and the training queue in "
                              "PostgreSQL (default $CVLOCAL_DATABASE, else SQLite in --data-dir). The password is "
                              "best given as $PGPASSWORD; keys 1 (flags or $CVLOCAL_*_KEY), keys 2 ($CVLOCAL_*_KEY2, "
                              "optional) and $CVLOCAL_SIGNING_SECRET then come from flags and the environment, the "
                              "same on every replica")
    cluster.add_argument("--blobs", default=os.environ.get("CVLOCAL_BLOBS"), metavar="URL",
                         help="images, models and exports in azureblob://ACCOUNT/CONTAINER[/PREFIX] (credentials: "
                              "$AZURE_STORAGE_CONNECTION_STRING, else DefaultAzureCredential) or in a folder "
                              "(default $CVLOCAL_BLOBS, else DATA_DIR/blobs)")
    cluster.add_argument("--training-workers", type=_count, default=1, metavar="N",
                         help="trainings this process runs at once (default 1)")
    cluster.add_argument("--training-lease", type=_seconds, default=30.0, metavar="SECONDS",
                         help="with --database: how long a replica that stopped answering keeps its training "
                              "before another replica takes it over (default 30)")
    serve.add_argument("--feature-cache", type=Path, default=os.environ.get(FEATURE_CACHE_VARIABLE) or None,
                       metavar="DIR",
                       help="a folder of image features shared with other services on this machine: a photo one "
                            "of them featurised trains here without running the backbone again (default "
                            f"${FEATURE_CACHE_VARIABLE}, else none: each service keeps its own in its store)")
    for command in COMMANDS:
        command.add_parsers(sub)
    return parser


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < 10 ** 9:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of seconds above 0")
    return seconds


def _service_url(value: str) -> str:
    from .transfer.peers import normalised
    try:
        return normalised(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number from 1 to 64")
    return int(value)


def _tier(value: str):
    try:
        return tier_named(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _lock_data_dir(data_dir: Path):
    """One service per data directory: a second one would corrupt nothing, but would confuse training."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(f"cvlocal: another cvlocal is already serving {data_dir}; stop it or choose another --data-dir.")
    return handle


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app
    from .gateway.forwarded import ForwardedHeaders
    from .store import SchemaTooNew, StoreUnavailable, check_locations, is_postgres
    from .transfer.peers import normalised

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        check_locations(args.database, args.blobs)  # before anything is written
        if args.precision == "int8":
            from .model.quantised import require_vnni

            require_vnni()
    except ValueError as exc:
        fail(str(exc))
    shared = is_postgres(args.database)  # replicas share the database: no data dir of its own to lock
    lock = None if shared else _lock_data_dir(args.data_dir)
    try:
        if shared:
            keys = cluster_keys(args.training_key, args.prediction_key)
        else:
            keys = load_keys(args.data_dir, args.training_key, args.prediction_key)
        faults = parse_faults(args.faults)
        import_from = args.import_from or [normalised(url) for url in
                                           os.environ.get("CVLOCAL_IMPORT_FROM", "").replace(",", " ").split()]
    except ValueError as exc:
        fail(str(exc))
    settings = Settings(data_dir=args.data_dir, training_key=keys.training_key, prediction_key=keys.prediction_key,
                        signing_secret=keys.signing_secret, allow_private_urls=args.allow_private_urls, faults=faults,
                        url_timeout_s=args.url_timeout, export_link_lifetime_s=args.export_link_lifetime,
                        import_from=tuple(import_from),
                        keys=keys.live, tier=args.tier, database=args.database, blobs=args.blobs,
                        training_workers=args.training_workers, training_lease_s=args.training_lease,
                        feature_cache=args.feature_cache, precision=args.precision)
    if shared and not args.blobs:
        logging.getLogger("cvlocal").warning("blobs are in %s, which only this replica sees: give every replica "
                                             "the same --blobs to run more than one", args.data_dir / "blobs")
    try:
        app = create_app(settings)
    except (ValueError, StoreUnavailable, SchemaTooNew) as exc:
        fail(str(exc), code=1)
    print(banner(args.host, args.port, settings, keys.sources, service_version()), flush=True)
    print(f"Tier {args.tier.summary()}", flush=True)
    # proxy headers from the trusted proxies only, the host included (uvicorn's own takes only the scheme)
    uvicorn.run(ForwardedHeaders(app.asgi, args.forwarded_allow_ips), host=args.host, port=args.port,
                log_level=args.log_level, access_log=False, timeout_graceful_shutdown=5, proxy_headers=False)
    if lock:
        lock.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        serve(args)
    else:
        args.run(args)


if __name__ == "__main__":
    main()
