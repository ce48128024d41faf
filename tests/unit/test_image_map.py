"""The id -> content hash map cvops keeps in image metadata: its size fits Azure's metadata limits, it reads back
what was written, and ambiguous or stale entries are left out rather than guessed."""
from __future__ import annotations

import hashlib
import uuid

import pytest

from pipeline.steps import image_map


def entries(n: int, seed: str = "x") -> list[tuple[str, str]]:
    ids = [str(uuid.UUID(hashlib.md5(f"{seed}{i}".encode()).hexdigest())) for i in range(n)]
    return [(i, image_map.hash_key(hashlib.sha256(i.encode()).hexdigest())) for i in ids]


def test_a_batch_of_64_fits_in_five_pairs_within_azure_limits():
    pairs = image_map.pack(entries(64), "a")
    assert len(pairs) == 5 and image_map.CAPACITY >= 64
    assert all(len(k) <= 128 and len(v) <= 256 for k, v in pairs.items())
    base64url = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(set(value) <= base64url for value in pairs.values())
    with pytest.raises(ValueError):
        image_map.pack(entries(66), "a")


def test_what_is_written_reads_back_whoever_carries_it():
    batch1, batch2 = entries(64, "one"), entries(40, "two")
    carried = image_map.pack(batch1, "a")  # batch 2's images carry batch 1's map
    own = image_map.pack(batch2, "b")  # and their own, written at the end
    listed = [(i, {}) for i, _ in batch1] + [(i, {**carried, **own}) for i, _ in batch2]
    found = image_map.identify(listed)
    assert found.by_image == dict(batch1 + batch2)
    # batch 1's entries live only on batch 2's images: deleting those orphans them
    assert sorted(found.orphaned_by({i for i, _ in batch2})) == sorted(batch1)
    assert found.orphaned_by({batch2[0][0]}) == []


def test_old_per_image_hashes_are_read_and_stale_or_foreign_values_ignored():
    sha = hashlib.sha256(b"old").hexdigest()
    listed = [("old-image", {"cvops.sha256": sha, "cvops.file": "apple/a.jpg"}),
              ("portal-image", {"source": "web", "cvops.map.z0": "not ours!"}),
              ("new-image", image_map.pack(entries(3, "gone"), "a"))]  # entries of images no longer listed
    found = image_map.identify(listed)
    assert found.by_image == {"old-image": image_map.hash_key(sha)}
    assert found.self_recorded == {"old-image"}


def test_an_id_key_two_listed_images_share_is_not_guessed():
    # A 48-bit collision takes ~16 million ids to find; the same id listed twice stands in for one.
    a = "image-a"
    key = image_map.id_key(a)
    entry = key + image_map.hash_key("00" * 32)
    found = image_map.identify([(a, {"cvops.map.a0": entry}), (a, {})])
    assert key in found.shared_id_keys and a not in found.by_image
    assert image_map.identify([(a, {"cvops.map.a0": entry})]).by_image == {a: image_map.hash_key("00" * 32)}


def test_room_is_checked_before_writing():
    full = {f"k{i}": "v" for i in range(8)}
    assert image_map.fits({}, image_map.pack(entries(64), "b"))
    assert not image_map.fits(full, image_map.pack(entries(64), "b"))
    assert image_map.fits(full, image_map.pack(entries(13), "b"))  # one value, two pairs of room
    assert not image_map.fits(image_map.pack(entries(1), "b"), image_map.pack(entries(1), "b"))  # same keys


def test_a_map_goes_to_images_that_share_their_metadata_and_keeps_it():
    # One call writes one dict: it is sent to the largest group of images with the same pairs, those pairs
    # included, so the result is right whether the service merges or replaces an image's metadata.
    chunk = entries(3)
    carried = image_map.pack(entries(2, "before"), "a")
    metadata = {chunk[0][0]: dict(carried), chunk[1][0]: dict(carried), chunk[2][0]: {"source": "portal"}}
    hosts, pairs = image_map._hosts(chunk, metadata)
    assert sorted(hosts) == sorted([chunk[0][0], chunk[1][0]])
    assert {k: pairs[k] for k in carried} == carried and image_map.unpack({"cvops.map.b0": pairs["cvops.map.b0"]}) \
        == [(image_map.id_key(i), k) for i, k in chunk]
    full = {i: {f"k{n}": "v" for n in range(10)} for i, _ in chunk}
    assert image_map._hosts(chunk, full) == ([], {})
