"""The service's keys as kept in `DATA_DIR/keys.json` (mode 0600): two keys of each kind, as Azure gives an
account key 1 and key 2, so a key can be regenerated while clients use the other one; and the secret that
signs image download links.

The file's names are those of its first version (`trainingKey`, `predictionKey`: key 1), plus `trainingKey2`
and `predictionKey2`; a file of the first version gets its key 2 on first open. The file is replaced
atomically, so a running service re-reading it (LiveKeys) never sees half of it.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .blobs import write_durably

KEYS_FILE = "keys.json"
KINDS = ("training", "prediction")
NUMBERS = (1, 2)
MIN_KEY_LENGTH = 32  # Azure's keys are 32 hex characters; so are the ones made here


def new_key() -> str:
    return secrets.token_hex(16)


def field_name(kind: str, number: int) -> str:
    """The field of keys.json that holds key `number` of `kind`, e.g. trainingKey2."""
    return f"{kind}Key" + ("" if number == 1 else str(number))


def check_key(label: str, key: str) -> str:
    """The key, or ValueError saying what a usable key looks like (never the key itself). `label` names where
    the key came from: --training-key, CVLOCAL_PREDICTION_KEY, trainingKey2 of .../keys.json."""
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{label} is {len(key)} characters long; a key needs at least {MIN_KEY_LENGTH} (Azure's "
                         "keys are 32 hex characters). Make one with: python3 -c 'import secrets; "
                         "print(secrets.token_hex(16))'")
    if not key.isascii() or not key.isprintable() or " " in key:
        raise ValueError(f"{label} must be printable ASCII without spaces (a key is sent in an HTTP header).")
    return key


@dataclass(frozen=True)
class ServiceKeys:
    """The keys a request may present: key 1 and key 2 of each kind."""
    training: tuple[str, ...]
    prediction: tuple[str, ...]

    def of(self, kind: str) -> tuple[str, ...]:
        return self.training if kind == "training" else self.prediction


class KeyFile:
    """keys.json: read, made on first use, and one key regenerated at a time."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / KEYS_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> dict[str, str]:
        try:
            kept = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.path} is not valid JSON ({exc}); restore it from a backup or remove it to "
                             "make new keys.") from None
        if not isinstance(kept, dict) or not all(isinstance(v, str) for v in kept.values()):
            raise ValueError(f"{self.path} is not a cvlocal keys file.")
        return kept

    def open(self) -> tuple[dict[str, str], bool]:
        """The file's fields, made complete (missing keys and the signing secret generated and written);
        and whether key 1 of the kinds were generated just now (a new data directory)."""
        with self._locked():
            kept = self.read() if self.path.exists() else {}
            generated = field_name("training", 1) not in kept
            missing = {name: new_key() for name in (field_name(k, n) for k in KINDS for n in NUMBERS)
                       if name not in kept}
            if "signingSecret" not in kept:
                missing["signingSecret"] = secrets.token_hex(32)
            if missing:
                kept.update(missing)
                self._write(kept)
            os.chmod(self.path, 0o600)
            return kept, generated

    def regenerate(self, kind: str, number: int) -> None:
        """A new random key `number` of `kind`; the other key of that kind keeps working throughout."""
        if kind not in KINDS or number not in NUMBERS:
            raise ValueError(f"There is no {kind} key {number}: kinds are {', '.join(KINDS)}, keys 1 and 2.")
        with self._locked():
            kept = self.read()
            kept[field_name(kind, number)] = new_key()
            self._write(kept)

    def keys(self, kept: dict[str, str]) -> ServiceKeys:
        return ServiceKeys(**{kind: tuple(kept[field_name(kind, n)] for n in NUMBERS) for kind in KINDS})

    def _write(self, kept: dict[str, str]) -> None:
        write_durably(self.path, json.dumps(kept, indent=1).encode())  # a temporary file (mode 0600) renamed
        os.chmod(self.path, 0o600)

    @contextmanager
    def _locked(self):
        """Two `cvlocal keys regenerate` at once each keep the other's new key."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / ".keys.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


class FixedKeys:
    """Keys that never change (a service made in-process, e.g. by tests)."""

    def __init__(self, keys: ServiceKeys):
        self._keys = keys

    def current(self) -> ServiceKeys:
        return self._keys


class LiveKeys:
    """The keys in keys.json, re-read when the file changes (looked at no more than once a second), so a key
    regenerated by `cvlocal keys regenerate` works, and the old one stops working, without a restart. A key
    given by flag or environment (`overrides`: kind -> key) stands for key 1 of its kind; key 2 stays the file's."""

    check_every_s = 1.0

    def __init__(self, key_file: KeyFile, overrides: dict[str, str]):
        self._file, self._overrides = key_file, overrides
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._next_check = 0.0
        self._keys = self._load()

    def current(self) -> ServiceKeys:
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                if now >= self._next_check:
                    self._next_check = now + self.check_every_s
                    if self._stat() != self._seen:
                        try:
                            self._keys = self._load()
                        except (OSError, ValueError, KeyError):  # mid-edit by hand: keep the keys last read
                            pass
        return self._keys

    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self._file.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _load(self) -> ServiceKeys:
        self._seen = self._stat()
        keys = self._file.keys(self._file.read())
        for kind, key in self._overrides.items():
            pair = list(keys.of(kind))
            pair[0] = key
            keys = ServiceKeys(**{**{k: keys.of(k) for k in KINDS}, kind: tuple(pair)})
        return keys
