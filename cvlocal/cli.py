"""`cvlocal serve`: run the self-hosted Custom Vision service."""
from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
from pathlib import Path

from .gateway.faults import parse_faults
from .settings import Settings, load_keys
from .tiers import DEFAULT_TIER, TIERS, tier_named

PREDICTION_RESOURCE_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cvlocal"
                          "/providers/Microsoft.CognitiveServices/accounts/cvlocal-prediction")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvlocal", description="Self-hosted, API-compatible Azure Custom Vision "
                                     "service: trains and serves image classifiers offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the service",
                           description="Start the Custom Vision training and prediction API on HOST:PORT.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8400, help="port to listen on (default 8400)")
    serve.add_argument("--data-dir", type=Path, default=Path(".cvlocal"),
                       help="where projects, images and models are kept (default .cvlocal)")
    serve.add_argument("--training-key", help="training key (default: $CVLOCAL_TRAINING_KEY, else generated "
                       "and kept in the data dir)")
    serve.add_argument("--prediction-key", help="prediction key (default: $CVLOCAL_PREDICTION_KEY, else generated "
                       "and kept in the data dir)")
    serve.add_argument("--allow-private-urls", action="store_true",
                       help="let /url routes fetch images from private and loopback addresses")
    serve.add_argument("--url-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                       help="longest time fetching one image URL may take, redirects included (default 10)")
    serve.add_argument("--export-link-lifetime", type=_seconds, default=24 * 3600.0, metavar="SECONDS",
                       help="how long an export's download link works (default 86400: 24 hours)")
    serve.add_argument("--faults", default=os.environ.get("CVLOCAL_FAULTS"),
                       help='inject faults for testing clients, e.g. "429=0.2,503=0.1,latency=0.3:0.5,drop=0.05,'
                            'lost=0.05,seed=1" (see docs/reliability.md)')
    serve.add_argument("--tier", type=_tier, default=os.environ.get("CVLOCAL_TIER", DEFAULT_TIER),
                       metavar="|".join(TIERS),
                       help="enforce an Azure pricing tier's quotas and request rates, answered as Azure does "
                            f"(default {DEFAULT_TIER}: none; see docs/self-hosted.md, Tiers)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < 10 ** 9:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of seconds above 0")
    return seconds


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


def _key_shown(kind: str, key: str, source: str, keys_file: Path) -> str:
    """A key is printed once, when it is generated; afterwards the block says where to read it from."""
    if source == "generated":
        return key
    if source == "env":
        return f"${{CVLOCAL_{kind.upper()}_KEY}}"
    if source == "flag":
        return f"<the --{kind}-key you passed>"
    return f"$(python3 -c 'import json;print(json.load(open(\"{keys_file}\"))[\"{kind}Key\"])')"


def _banner(host: str, port: int, settings: Settings, sources: dict[str, str]) -> str:
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    endpoint = f"http://{shown}:{port}/"
    keys_file = (settings.data_dir / "keys.json").resolve()
    lines = [f"cvlocal: serving Custom Vision on {endpoint} (data in {settings.data_dir})"]
    if "generated" in sources.values():
        lines.append(f"New keys were generated and kept (mode 0600) in {keys_file}; they are shown this once.")
    training = _key_shown("training", settings.training_key, sources["training"], keys_file)
    prediction = _key_shown("prediction", settings.prediction_key, sources["prediction"], keys_file)
    lines += ["Paste into the shell of a Custom Vision client (the official quickstarts read these):",
              f"export VISION_TRAINING_ENDPOINT={endpoint}",
              f"export VISION_TRAINING_KEY={training}",
              f"export VISION_PREDICTION_ENDPOINT={endpoint}",
              f"export VISION_PREDICTION_KEY={prediction}",
              f"export VISION_PREDICTION_RESOURCE_ID={PREDICTION_RESOURCE_ID}"]
    return "\n".join(lines)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lock = _lock_data_dir(args.data_dir)
    try:
        training, prediction, secret, sources = load_keys(args.data_dir, args.training_key, args.prediction_key)
        faults = parse_faults(args.faults)
    except ValueError as exc:
        sys.exit(f"cvlocal: {exc}")
    settings = Settings(data_dir=args.data_dir, training_key=training, prediction_key=prediction,
                        signing_secret=secret, allow_private_urls=args.allow_private_urls, faults=faults,
                        url_timeout_s=args.url_timeout, export_link_lifetime_s=args.export_link_lifetime,
                        tier=args.tier)
    app = create_app(settings)
    print(_banner(args.host, args.port, settings, sources), flush=True)
    print(f"Tier {args.tier.summary()}", flush=True)
    uvicorn.run(app.asgi, host=args.host, port=args.port, log_level=args.log_level, access_log=False,
                timeout_graceful_shutdown=5)
    lock.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        serve(args)


if __name__ == "__main__":
    main()
