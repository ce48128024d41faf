"""The block `cvlocal serve` prints as it starts: where it serves, and the variables to paste into a client's
shell, twice: the CUSTOM_VISION_* names the pipeline's configs read, then the VISION_* names Microsoft's
quickstarts read. A key is printed only when it was generated just now; otherwise the line reads it.
"""
from __future__ import annotations

import ipaddress
import socket

from ..settings import Settings
from .common import program

PREDICTION_RESOURCE_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cvlocal"
                          "/providers/Microsoft.CognitiveServices/accounts/cvlocal-prediction")
# setting -> variable; the pipeline's table (pipeline/config/settings.py) has the same names (a test checks)
PIPELINE_VARIABLES = {
    "training_endpoint": "CUSTOM_VISION_TRAINING_ENDPOINT",
    "training_key": "CUSTOM_VISION_TRAINING_KEY",
    "prediction_endpoint": "CUSTOM_VISION_PREDICTION_ENDPOINT",
    "prediction_key": "CUSTOM_VISION_PREDICTION_KEY",
    "prediction_resource_id": "CUSTOM_VISION_PREDICTION_RESOURCE_ID",
}
QUICKSTART_VARIABLES = {  # Microsoft's Custom Vision quickstarts (Python, C#, JavaScript) read these
    "training_endpoint": "VISION_TRAINING_ENDPOINT",
    "training_key": "VISION_TRAINING_KEY",
    "prediction_endpoint": "VISION_PREDICTION_ENDPOINT",
    "prediction_key": "VISION_PREDICTION_KEY",
    "prediction_resource_id": "VISION_PREDICTION_RESOURCE_ID",
}
ALL_INTERFACES = ("0.0.0.0", "::", "")


def reachable_address() -> str:
    """This machine's address as other machines reach it: the source address of its default route (a UDP
    socket's connect sends nothing), else what its host name resolves to, else the host name."""
    candidates = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only used to pick a route
            candidates.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    for address in candidates:
        if not ipaddress.ip_address(address).is_loopback and not ipaddress.ip_address(address).is_unspecified:
            return address
    return socket.gethostname()


def endpoint(host: str, port: int) -> str:
    """The URL a client uses: localhost for loopback, this machine's address when listening everywhere."""
    if host in ALL_INTERFACES:
        host = reachable_address()
    elif host in ("127.0.0.1", "::1"):
        host = "localhost"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _key_line(kind: str, settings: Settings, source: str) -> str:
    if source == "generated":
        return settings.training_key if kind == "training" else settings.prediction_key
    if source == "env":
        return f"${{CVLOCAL_{kind.upper()}_KEY}}"
    if source == "flag":
        return f"<the --{kind}-key you passed>"
    return f"$({program()} keys show --data-dir {settings.data_dir.resolve()} --kind {kind} --key 1 --values)"


def _exports(names: dict[str, str], values: dict[str, str]) -> list[str]:
    return [f"export {names[setting]}={values[setting]}" for setting in names]


def where(settings: Settings) -> str:
    """Where the data is, without the database's password."""
    from ..store import redacted

    if not settings.database:
        return f"data in {settings.data_dir}" + (f", blobs in {settings.blobs}" if settings.blobs else "")
    return f"database {redacted(settings.database)}, blobs in {settings.blobs or settings.data_dir / 'blobs'}"


def _keys_line(settings: Settings, keys_file) -> str:
    if settings.database:  # cluster mode (settings.cluster_keys)
        return ("Keys: from flags and the environment, the same on every replica (key 2: $CVLOCAL_TRAINING_KEY2, "
                "$CVLOCAL_PREDICTION_KEY2; see docs/scale.md)")
    return f"Keys: two of each kind in {keys_file} (see {program()} keys --help)"


def banner(host: str, port: int, settings: Settings, sources: dict[str, str], version: str) -> str:
    url = endpoint(host, port)
    keys_file = (settings.data_dir / "keys.json").resolve()
    listening = f"listening on {host or '0.0.0.0'}:{port}, " if host in ALL_INTERFACES else ""
    lines = [f"cvlocal {version}: serving Custom Vision on {url} ({listening}{where(settings)})",
             f"Liveness: {url}health  readiness: {url}ready", _keys_line(settings, keys_file)]
    if "generated" in sources.values():
        lines.append(f"New keys were generated and kept (mode 0600) in {keys_file}; they are shown this once. "
                     f"Key 2 of each kind: {program()} keys show --data-dir {settings.data_dir.resolve()} --values")
    values = {"training_endpoint": url, "prediction_endpoint": url, "prediction_resource_id": PREDICTION_RESOURCE_ID,
              "training_key": _key_line("training", settings, sources["training"]),
              "prediction_key": _key_line("prediction", settings, sources["prediction"])}
    lines += ["", "# For cvops, the pipeline (its configs read these):", *_exports(PIPELINE_VARIABLES, values),
              "", "# For Microsoft's Custom Vision quickstarts and samples (they read these):",
              *_exports(QUICKSTART_VARIABLES, values), ""]
    return "\n".join(lines)
