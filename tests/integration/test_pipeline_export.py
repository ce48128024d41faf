"""`cvops export-model` and `cvops classify` as a user meets them, against the real service: a non-compact
iteration is refused with the way out; `plan` shows the domain move and `run` makes it (and trains again); the
compact iteration's package downloads. classify takes the config first, folders, big images (scaled down to
the prediction limit) and --output csv; bad input exits 2."""
from __future__ import annotations

import csv
import io
import random
import zipfile

import pytest
from PIL import Image

from harness.pipeline import cvops, unique, write_config
from tests.integration.test_pipeline_friction import sdk  # noqa: F401 - a fixture

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def big_photo(path) -> None:
    """A 1,800 x 1,400 px PNG of noise: about 7.5 MB, over the 4 MB prediction limit."""
    rng = random.Random(5)
    Image.frombytes("RGB", (1800, 1400), rng.randbytes(1800 * 1400 * 3)).save(path, "PNG")


def test_export_a_compact_iteration_after_moving_the_project(service_env, sdk, datasets, tmp_path):
    env, name = service_env, unique("Export")
    general = write_config(tmp_path / "general.yaml", project={"name": name, "domain": "General"})
    first = cvops("run", str(general), env=env, cwd=tmp_path)
    assert first.exit_code == 0, first.output

    refused = cvops("export-model", str(general), "--output", str(tmp_path / "models"), env=env, cwd=tmp_path)
    assert refused.exit_code == 1, refused.output
    assert "Iteration 1 was trained on domain 'General', which cannot export: only compact domains do" \
        in refused.stderr and "project.allow_domain_change: true" in refused.stderr, refused.stderr

    compact = write_config(tmp_path / "compact.yaml", base=general,
                           project={"name": name, "domain": "General (compact)"})
    plan = cvops("plan", str(compact), env=env, cwd=tmp_path)
    assert plan.exit_code == 0, plan.output
    assert "domain: General -> General (compact): left as it is (set project.allow_domain_change: true" \
        in plan.stdout and "compact domains are the ones that export" in plan.stdout
    moving = write_config(tmp_path / "moving.yaml", base=compact,
                          project={"name": name, "domain": "General (compact)", "allow_domain_change": True})
    plan = cvops("plan", str(moving), env=env, cwd=tmp_path)
    assert "domain: General -> General (compact): will be moved" in plan.stdout, plan.output
    assert "training: needed (the project moves to domain 'General (compact)')" in plan.stdout
    moved = cvops("run", str(moving), env=env, cwd=tmp_path)
    assert moved.exit_code == 0, moved.output
    assert "moves from domain 'General' to 'General (compact)'" in moved.stderr
    assert "published Iteration 2 as 'groceries'" in moved.stderr  # trained again, though no image changed

    exported = cvops("export-model", str(moving), "--output", str(tmp_path / "models"), env=env, cwd=tmp_path)
    assert exported.exit_code == 0, exported.output
    package = tmp_path / "models" / f"{name.replace(' ', '-')}-Iteration-2-ONNX.zip"
    assert f"ok: Iteration 2 exported (ONNX) to {package}" in exported.stdout
    with zipfile.ZipFile(package) as z:
        assert {"model.onnx", "labels.txt"} <= set(z.namelist())
        assert z.read("labels.txt").decode().split() == ["apple", "banana", "orange"]
    older = cvops("export-model", str(moving), "--iteration", "iteration 1", "--platform", "onnx",
                  env=env, cwd=tmp_path)  # names match whatever their case
    assert older.exit_code == 1 and "Iteration 1 was trained on domain 'General'" in older.stderr, older.output
    # another platform and flavor, named in any case; the package takes the service's (Azure's) spelling
    frozen = cvops("export-model", str(moving), "--platform", "tensorflow", "--flavor", "tensorflownormal",
                   "--output", str(tmp_path / "models"), env=env, cwd=tmp_path)
    assert frozen.exit_code == 0, frozen.output
    package = tmp_path / "models" / f"{name.replace(' ', '-')}-Iteration-2-TensorFlow-TensorFlowNormal.zip"
    with zipfile.ZipFile(package) as z:
        assert {"model.pb", "labels.txt", "cvexport.manifest", "metadata_properties.json"} <= set(z.namelist())
    wrong = cvops("export-model", str(moving), "--platform", "ONNX", "--flavor", "TensorFlowLite", env=env,
                  cwd=tmp_path)
    assert wrong.exit_code == 1 and "'TensorFlowLite' is a flavor of TensorFlow" in wrong.stderr, wrong.output
    status = cvops("status", str(moving), env=env, cwd=tmp_path)
    assert "domain: General (compact), exports to: ONNX, TensorFlow, OpenVino, CoreML, DockerFile" \
        in status.stdout, status.output
    lines = {line.split()[0] + " " + line.split()[1]: line for line in status.stdout.splitlines()
             if line.startswith("  Iteration")}
    assert "exports to: ONNX, TensorFlow, OpenVino, CoreML, DockerFile" in lines["Iteration 2"]
    assert "exports to" not in lines["Iteration 1"]  # trained on General, which does not export

    # classify: the config first, a folder, a photo over the prediction limit, CSV out
    photos = tmp_path / "photos"
    photos.mkdir()
    for fruit, image in (("apple", "apple5.jpg"), ("banana", "banana4.jpg")):
        (photos / image).write_bytes((datasets / "fruit-extra" / fruit / image).read_bytes())
    big_photo(tmp_path / "big.png")
    assert (tmp_path / "big.png").stat().st_size > 4 * 1024 * 1024
    table = cvops("classify", str(moving), str(photos), str(tmp_path / "big.png"), "--output", "csv",
                  env=env, cwd=tmp_path)
    assert table.exit_code == 0, table.output
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [r["image"].rsplit("/", 1)[-1] for r in rows] == ["apple5.jpg", "banana4.jpg", "big.png"]
    assert [r["top_tag"] for r in rows[:2]] == ["apple", "banana"]
    assert set(rows[0]) == {"image", "top_tag", "probability", "apple", "banana", "orange"}
    assert abs(sum(float(rows[0][t]) for t in ("apple", "banana", "orange")) - 1) < 1e-3
    shown = cvops("classify", str(moving), str(tmp_path / "big.png"), env=env, cwd=tmp_path)
    assert shown.exit_code == 0 and "resized from 1800x1400 px" in shown.stdout, shown.output

    (tmp_path / "notes.jpg").write_text("not a photo")
    for bad in ([str(tmp_path / "notes.jpg")], [str(tmp_path / "nowhere.jpg")], [str(tmp_path / "models")]):
        result = cvops("classify", str(moving), *bad, env=env, cwd=tmp_path)
        assert result.exit_code == 2, (bad, result.output)
    assert "not a JPEG, PNG, BMP or GIF image" in cvops("classify", str(moving), str(tmp_path / "notes.jpg"),
                                                        env=env, cwd=tmp_path).stderr
    assert cvops("classify", str(moving), env=env, cwd=tmp_path).exit_code == 2  # no image given
