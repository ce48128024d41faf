"""The pure parts of copying a project: import tokens (signed, expiring, refused when altered, truncated or made
elsewhere), the exported-project document (versioned, checked as untrusted input), the exporters an import may
fetch from, and the artifact paths get_artifact serves."""
from __future__ import annotations

import copy
import time

import pytest

from cvlocal.api.artifacts import artifact
from cvlocal.api.links import Links
from cvlocal.store.exported import DocumentInvalid, document, parse
from cvlocal.store.records import ExportedImage, ExportedProject, ExportedTag
from cvlocal.transfer.peers import Peers, normalised
from cvlocal.transfer.tokens import TokenInvalid, TokenSigner

SECRET, OTHER = b"a" * 32, b"b" * 32
HERE = "http://10.0.0.5:8400"
SHA = "ab" * 32
IMAGE_ID = "85427c83-4460-4716-88a5-414efbe9ee9f"


def test_a_token_says_where_and_what_and_only_its_signer_vouches_for_it():
    token = TokenSigner(SECRET).issue(HERE + "/", "export-1", time.time() + 60)
    read = TokenSigner(SECRET).verify(token)
    assert (read.issuer, read.export_id, read.signed_here) == (HERE, "export-1", True)
    elsewhere = TokenSigner(OTHER).read(token)  # another service reads it, but cannot vouch for it
    assert (elsewhere.issuer, elsewhere.signed_here) == (HERE, False)
    with pytest.raises(TokenInvalid, match="did not sign"):
        TokenSigner(OTHER).verify(token)


def _altered(token: str, part: int) -> str:
    parts = token.split(".")
    parts[part] = parts[part][:-2] + ("AA" if parts[part][-2:] != "AA" else "BB")
    return ".".join(parts)


@pytest.mark.parametrize("make_bad, reason", [
    (lambda t: _altered(t, 2), "did not sign"),              # forged signature
    (lambda t: _altered(t, 1), "damaged|did not sign"),      # altered payload
    (lambda t: t[:-5], "did not sign"),                       # truncated signature
    (lambda t: t[: len(t) // 2], "not a token|damaged"),      # truncated in the payload
    (lambda t: "cvp2" + t[4:], "not a token"),                # another format
    (lambda t: "x" * 3000, "not a token"),                    # too long
    (lambda t: "", "not a token"),
])
def test_altered_truncated_and_foreign_tokens_are_refused(make_bad, reason):
    token = TokenSigner(SECRET).issue(HERE, "export-1", time.time() + 60)
    with pytest.raises(TokenInvalid, match=reason):
        TokenSigner(SECRET).verify(make_bad(token))


def test_an_expired_token_is_refused_and_no_link_signature_is_a_token():
    expired = TokenSigner(SECRET).issue(HERE, "export-1", time.time() - 1)
    assert TokenSigner(SECRET).read(expired).expired()
    with pytest.raises(TokenInvalid, match="expired"):
        TokenSigner(SECRET).verify(expired)
    token = TokenSigner(SECRET).issue(HERE, "export-1", time.time() + 60)
    payload = token.split(".")[1]
    assert Links(SECRET).image_signature(payload) not in token  # signed under a context of its own


def _project(**changes) -> ExportedProject:
    project = ExportedProject("p", "", "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "Multiclass", ("ONNX",),
                              (ExportedTag("t1", "red", None, "Regular", "2024-01-01T00:00:00Z"),),
                              (ExportedImage(SHA, 10, 20, 30, {"k": "v"}, "2024-01-01T00:00:00Z", ("t1",)),))
    return project if not changes else ExportedProject(**{**project.__dict__, **changes})


def test_the_exported_project_document_round_trips_and_is_checked_as_untrusted_input():
    assert parse(document(_project())) == _project()
    good = document(_project())
    broken = []
    for path, value in ((("version",), 2), (("format",), "azure"), (("images", 0, "sha256"), "../etc/passwd"),
                        (("images", 0, "tags"), ["t9"]), (("images", 0, "width"), 0), (("project", "name"), ""),
                        (("project", "classificationType"), "Detection"), (("tags", 0, "type"), "Admin")):
        doc = copy.deepcopy(good)
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        broken.append(doc)
    doc = copy.deepcopy(good)
    doc["images"].append(doc["images"][0])
    broken.append(doc)
    for doc in broken:
        with pytest.raises(DocumentInvalid):
            parse(doc)


def test_an_import_fetches_only_from_the_exporters_the_operator_named():
    peers = Peers(("HTTP://Exporter.example:80/", "https://10.0.0.5:8443"), timeout_s=1)
    assert peers.allows("http://exporter.example") and peers.allows("https://10.0.0.5:8443/")
    assert not peers.allows("http://exporter.example:8080") and not peers.allows("http://169.254.169.254")
    assert not peers.allows("file:///etc/passwd") and not peers.allows("nonsense")
    assert normalised("http://[::1]:8400/") == "http://[::1]:8400"
    for bad in ("ftp://host", "http://user@host", "http://host/?q=1", "host:8400"):
        with pytest.raises(ValueError):
            normalised(bad)


@pytest.mark.parametrize("path", [
    f"images/{IMAGE_ID}/original", f"predictions/{IMAGE_ID}/thumbnail", "exports/" + "A" * 43 + "/model.zip"])
def test_artifact_paths_name_what_the_download_links_name(path):
    assert artifact(path) is not None


@pytest.mark.parametrize("path", [
    f"/images/{IMAGE_ID}/original", f"images/{IMAGE_ID}/../original", f"images/../{IMAGE_ID}/original",
    f"images%2F{IMAGE_ID}%2Foriginal", f"images\\{IMAGE_ID}\\original", f"images/{IMAGE_ID}/original/",
    f"images/{IMAGE_ID}/original\n", "exports/" + "A" * 43 + "/../model.zip", "exports/" + "A" * 43 + "/..",
    "exports/" + "A" * 43 + "/%2e%2e", f"blobs/images/{IMAGE_ID}/original", "", "."])
def test_artifact_paths_that_escape_or_are_unknown_match_nothing(path):
    assert artifact(path) is None
