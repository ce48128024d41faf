"""`dataset: {url, sha256}`: a zip downloaded once into a cache, checked and extracted (served on loopback)."""
from __future__ import annotations

import hashlib
import io
import socket
import zipfile

import pytest

from harness.files import serve_files
from harness.images import photo
from harness.pipeline import cvops, unique, write_config


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def archive_server():
    """Serves registered archives on loopback and counts the requests for each."""
    with serve_files() as server:
        def publish(name: str, data: bytes) -> tuple[str, str]:
            server.files[f"/{name}"] = data
            return server.url(f"/{name}"), hashlib.sha256(data).hexdigest()

        yield publish, server.hits


def _colours_zip() -> bytes:
    return _zip({f"training-images/{c}/{c}{i}.jpg": photo(c, i) for c in ("red", "blue") for i in range(6)})


def _config(tmp_path, url, sha, **dataset):
    return write_config(tmp_path / "cfg.yaml", project={"name": unique("Zip dataset"), "domain": "General"},
                        dataset={"url": url, "sha256": sha, "subfolder": "training-images",
                                 "cache_dir": str(tmp_path / "cache"), "path": None, **dataset},
                        gates={"precision": 0.5, "per_tag": {}}, smoke_test=[], report=None)


def test_a_zipped_dataset_is_downloaded_once_and_published(tmp_path, archive_server, pipeline_service):
    publish, hits = archive_server
    url, sha = publish("colours.zip", _colours_zip())
    config = _config(tmp_path, url, sha)
    env = pipeline_service.environment()

    validated = cvops("validate", str(config), env=env, cwd=tmp_path)
    assert validated.exit_code == 0 and "not downloaded yet" in validated.stdout
    assert hits == {}  # validate never touches the network

    first = cvops("run", str(config), env=env, cwd=tmp_path)
    assert first.exit_code == 0, first.output
    assert "published" in first.stdout
    again = cvops("run", str(config), env=env, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert hits == {"/colours.zip": 1}
    assert (tmp_path / "cache" / f"{sha}.zip").is_file()
    assert sorted(p.name for p in (tmp_path / "cache" / sha / "training-images").iterdir()) == ["blue", "red"]


def test_a_changed_archive_is_refused_and_nothing_is_cached(tmp_path, archive_server, pipeline_service):
    publish, _ = archive_server
    url, _ = publish("colours.zip", _colours_zip())
    config = _config(tmp_path, url, "0" * 64)
    result = cvops("plan", str(config), env=pipeline_service.environment(), cwd=tmp_path)
    assert result.exit_code == 2
    assert "cfg.yaml:" in result.stderr and "not the 0000" in result.stderr and "dataset.sha256" in result.stderr
    assert list((tmp_path / "cache").iterdir()) == []


def test_offline_says_how_to_use_a_local_copy(tmp_path, pipeline_service):
    with socket.socket() as s:  # a port nobody listens on: as good as no network
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _config(tmp_path, f"http://127.0.0.1:{port}/fruit.zip", "a" * 64)
    result = cvops("plan", str(config), env=pipeline_service.environment(), cwd=tmp_path)
    assert result.exit_code == 2
    assert "could not download" in result.stderr and "dataset.path" in result.stderr


def test_an_archive_with_paths_outside_itself_is_refused(tmp_path, archive_server, pipeline_service):
    publish, _ = archive_server
    url, sha = publish("evil.zip", _zip({"training-images/red/a.jpg": photo("red", 1), "../../escape.jpg": b"x"}))
    result = cvops("plan", str(_config(tmp_path, url, sha)), env=pipeline_service.environment(), cwd=tmp_path)
    assert result.exit_code == 2 and "outside the archive" in result.stderr
    assert not (tmp_path / "escape.jpg").exists() and not (tmp_path.parent / "escape.jpg").exists()


def test_path_and_url_together_or_url_without_sha_is_a_config_error(tmp_path, pipeline_service):
    for dataset, message in (({"url": "https://example.com/a.zip", "sha256": "a" * 64, "path": "x"}, "exactly one"),
                             ({"url": "https://example.com/a.zip", "path": None}, "needs `sha256`")):
        config = write_config(tmp_path / "cfg.yaml", dataset=dataset)
        result = cvops("validate", str(config), env=pipeline_service.environment(), cwd=tmp_path)
        assert result.exit_code == 2 and message in result.stderr and "cfg.yaml:" in result.stderr
