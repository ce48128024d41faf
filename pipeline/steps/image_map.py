"""Which project image is which dataset file, kept in the project itself: any machine, no local state.

Custom Vision keeps no name and shows no content hash of an image, so cvops writes a map, image id -> content
hash, into image metadata. One entry is 19 characters: 8 for the image id (base64url of the first 48 bits of
SHA-256 of the id) and 11 for the content (the first 66 bits of the file's SHA-256, base64url). 13 entries fill
a value (Azure takes values of up to 256 characters) and 5 values hold a whole upload batch (64 images).

- Upload batch k carries the map of batch k-1 as its batch metadata, which the service gives every image the
  batch creates (slot `a`: keys `cvops.map.a0` ... `a4`). No extra request.
- The map that no later batch carries (the last batch's, or one whose batch created nothing) is written with
  one `update_image_metadata` call onto the images it describes, under a second slot (`b`, ...), together with
  the pairs they already have. A map takes at most 5 pairs, so an image holds two (Azure's limit is 10).
- A rerun lists the project's images and reads every map back (`identify`). An image whose entry is lost
  (every image carrying it deleted, or a run stopped before writing it) is simply uploaded again: Azure
  answers OKDuplicate with its id, and its entry is written again.
- Images uploaded by older cvops versions carry `cvops.sha256` themselves; that is read too.

Truncation is safe at these sizes: two different files share a 66-bit key with odds below 1e-10 in a
100,000-image project (Azure's S0 limit). Two images whose 48-bit id keys collide are recorded one by one
one by one (`cvops.hash`) instead."""
from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

HASH_KEY = "cvops.sha256"  # an image's own full hash, as older cvops versions recorded it (read only)
FILE_KEY = "cvops.file"  # its file name, from the same versions
OWN_KEY = "cvops.hash"  # an image's own hash key: for images whose id key another image shares
MAP_PREFIX = "cvops.map."
UPLOAD_SLOT = "a"
RECORD_SLOTS = "bcdefghij"
ID_CHARS, HASH_CHARS = 8, 11
ENTRY_CHARS = ID_CHARS + HASH_CHARS
PER_VALUE = 256 // ENTRY_CHARS  # 13
VALUES_PER_MAP = 5
CAPACITY = PER_VALUE * VALUES_PER_MAP  # 65 entries: one batch of 64
MAX_PAIRS = 10  # metadata pairs an image may hold
MAX_IDS_PER_CALL = 64  # update_image_metadata
_ENTRIES = re.compile(rf"^(?:[A-Za-z0-9_-]{{{ENTRY_CHARS}}})+$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HASH_KEY = re.compile(rf"^[A-Za-z0-9_-]{{{HASH_CHARS}}}$")

Entry = tuple[str, str]  # (image id, hash key of its content)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def id_key(image_id: str) -> str:
    """An image id's 8-character key (works for any id format)."""
    return _b64(hashlib.sha256(image_id.encode()).digest()[:6])


def hash_key(sha256_hex: str) -> str:
    """A content hash's 11-character key."""
    return _b64(bytes.fromhex(sha256_hex)[:9])[:HASH_CHARS]


def pack(entries: Sequence[Entry], slot: str) -> dict[str, str]:
    """Metadata pairs holding `entries` (at most CAPACITY) under `slot`."""
    if len(entries) > CAPACITY:
        raise ValueError(f"a map holds at most {CAPACITY} entries, not {len(entries)}")
    text = [id_key(image_id) + key for image_id, key in entries]
    return {f"{MAP_PREFIX}{slot}{n}": "".join(text[i:i + PER_VALUE])
            for n, i in enumerate(range(0, len(text), PER_VALUE))}


def unpack(metadata: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """The (id key, hash key) entries of every map an image carries; values that are not ours are skipped."""
    found = []
    for key, value in (metadata or {}).items():
        if key.startswith(MAP_PREFIX) and isinstance(value, str) and _ENTRIES.match(value):
            found += [(value[i:i + ID_CHARS], value[i + ID_CHARS:i + ENTRY_CHARS])
                      for i in range(0, len(value), ENTRY_CHARS)]
    return found


@dataclass
class Identities:
    """What the project's metadata says about its images."""

    by_image: dict[str, str] = field(default_factory=dict)  # image id -> hash key
    hosts: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (id key, hash key) -> carriers' ids
    self_recorded: set[str] = field(default_factory=set)  # images that carry their own hash
    shared_id_keys: set[str] = field(default_factory=set)  # id keys of more than one image

    def orphaned_by(self, deleted: set[str]) -> list[Entry]:
        """Entries of surviving images that only images in `deleted` carry (lost with them unless rewritten)."""
        orphaned = []
        for image_id, key in self.by_image.items():
            if image_id in deleted or image_id in self.self_recorded:
                continue
            carriers = self.hosts.get((id_key(image_id), key), set())
            if carriers and carriers <= deleted:
                orphaned.append((image_id, key))
        return orphaned


def identify(images: Iterable[tuple[str, Mapping[str, str] | None]]) -> Identities:
    """Image id -> hash key for every listed (id, metadata) whose entry is found; stale entries (deleted
    images) and ambiguous ones (an id key shared by two listed images) are left out."""
    images = list(images)
    found = Identities()
    id_keys = Counter(id_key(image_id) for image_id, _ in images)
    found.shared_id_keys = {key for key, count in id_keys.items() if count > 1}
    recorded: dict[str, set[str]] = defaultdict(set)
    for image_id, metadata in images:
        for entry in unpack(metadata):
            recorded[entry[0]].add(entry[1])
            found.hosts.setdefault(entry, set()).add(image_id)
    for image_id, metadata in images:
        own = _own_key(metadata or {})
        if own is not None:
            found.by_image[image_id] = own
            found.self_recorded.add(image_id)
            continue
        key = id_key(image_id)
        if key not in found.shared_id_keys and len(recorded.get(key, ())) == 1:
            found.by_image[image_id] = next(iter(recorded[key]))
    return found


def _own_key(metadata: Mapping[str, str]) -> str | None:
    full, key = metadata.get(HASH_KEY), metadata.get(OWN_KEY)
    if isinstance(full, str) and _HEX64.match(full):
        return hash_key(full)
    if isinstance(key, str) and _HASH_KEY.match(key):
        return key
    return None


def fits(metadata: Mapping[str, str] | None, pairs: Mapping[str, str]) -> bool:
    """Whether an image can take `pairs` without losing a pair it has or going over Azure's 10."""
    have = set(metadata or {})
    return not (have & set(pairs)) and len(have) + len(pairs) <= MAX_PAIRS


@dataclass
class RecordResult:
    calls: int = 0
    recorded: int = 0
    unrecorded: list[Entry] = field(default_factory=list)


def record(trainer: Any, project_id: str, entries: Sequence[Entry],
           metadata: dict[str, dict[str, str]]) -> RecordResult:
    """Write `entries` into the project with as few `update_image_metadata` calls as possible: each map onto
    images it describes (so it lives as long as they do). `metadata` (image id -> its pairs, as the service
    holds them) is read to find room and updated with what was written.

    One call writes one dict onto every image it names, so the hosts of a map are images whose metadata is the
    same (the images one batch created carry the same batch metadata), and the dict sent is that metadata plus
    the map: right whether the service merges the pairs into an image's metadata or replaces it."""
    result = RecordResult()
    shared = _shared_id_keys(metadata)
    one_by_one = [e for e in entries if id_key(e[0]) in shared]
    mapped = [e for e in entries if id_key(e[0]) not in shared]
    for start in range(0, len(mapped), CAPACITY):
        chunk = mapped[start:start + CAPACITY]
        hosts, pairs = _hosts(chunk, metadata)
        if not hosts:
            result.unrecorded += chunk
            continue
        result.calls += 1
        if _update(trainer, project_id, hosts[:MAX_IDS_PER_CALL], pairs, metadata):
            result.recorded += len(chunk)
        else:
            result.unrecorded += chunk
    for image_id, key in one_by_one:  # astronomically rare: one call each
        have = metadata.get(image_id, {})
        if fits(have, {OWN_KEY: key}):
            result.calls += 1
            if _update(trainer, project_id, [image_id], {**have, OWN_KEY: key}, metadata):
                result.recorded += 1
                continue
        result.unrecorded.append((image_id, key))
    return result


def _hosts(chunk: Sequence[Entry], metadata: Mapping[str, Mapping[str, str]]) -> tuple[list[str], dict[str, str]]:
    """(the largest group of the chunk's images that share their metadata and have room for the map under a free
    slot, the dict to send them); ([], {}) when none has room."""
    groups: dict[frozenset, list[str]] = defaultdict(list)
    for image_id, _ in chunk:
        groups[frozenset((metadata.get(image_id) or {}).items())].append(image_id)
    for have, ids in sorted(groups.items(), key=lambda group: -len(group[1])):
        current = dict(have)
        for slot in RECORD_SLOTS:
            pairs = pack(chunk, slot)
            if fits(current, pairs):
                return ids, {**current, **pairs}
    return [], {}


def _update(trainer: Any, project_id: str, image_ids: list[str], pairs: dict[str, str],
            metadata: dict[str, dict[str, str]]) -> bool:
    """One update_image_metadata call; True when at least one image took the pairs."""
    summary = trainer.update_image_metadata(project_id, image_ids, pairs)
    results = getattr(summary, "images", None)
    took = list(image_ids) if results is None else [r.image_id for r in results if r.status == "OK"]
    for image_id in took:
        metadata[image_id] = {**metadata.get(image_id, {}), **pairs}
    return bool(took)


def _shared_id_keys(metadata: Mapping[str, Any]) -> set[str]:
    counts = Counter(id_key(image_id) for image_id in metadata)
    return {key for key, count in counts.items() if count > 1}
