"""Iterations: training refused or followed live (Advanced, with a budget), publish / unpublish, deleting a
published iteration refused with the service's message, export (ONNX; TensorFlow Lite, chosen among Azure's
platforms and flavors) and download, quick test by URL."""
from __future__ import annotations

import io
import zipfile

import pytest

from .portal import expect
from .sdk_setup import Setup, training_client_for

pytestmark = pytest.mark.browser
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


@pytest.fixture(scope="module")
def trained(setup, make_photo):
    """A compact (exportable) project with one trained iteration."""
    project, tags = setup.project("Compact", {c: [make_photo(c, 400 + i, (160, 120)) for i in range(6)]
                                              for c in ("red", "blue")}, domain_id=GENERAL_COMPACT)
    return project, setup.train(project.id)


def test_export_onnx_and_download(portal, trained):
    project, iteration = trained
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    page.get_by_role("button", name="Export").click()
    dialog = page.get_by_role("dialog", name="Choose your platform")
    expect(dialog.get_by_label("ONNX")).to_be_checked()
    dialog.get_by_role("button", name="Export").click()
    link = dialog.get_by_role("link", name="Download ONNX model")
    expect(link).to_be_visible(timeout=120_000)
    assert "/blobs/exports/" in link.get_attribute("href")
    with page.expect_download() as download:
        link.click()
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as package:
        assert {"model.onnx", "labels.txt"} <= set(package.namelist())
        assert package.read("labels.txt").decode().split() == ["red", "blue"]


def test_export_lists_azures_platforms_and_downloads_a_tensorflow_lite_model(portal, trained):
    project, iteration = trained
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    page.get_by_role("button", name="Export").click()
    dialog = page.get_by_role("dialog", name="Choose your platform")
    for label in ("iOS", "Android", "ONNX", "Dockerfile", "OpenVINO"):
        expect(dialog.get_by_label(label, exact=True)).to_be_enabled()
    expect(dialog.get_by_label("Vision AI Dev Kit")).to_be_disabled()  # not built by this service
    dialog.get_by_label("Android").check()
    dialog.get_by_label("Flavor").select_option(label="TensorFlow Lite")
    dialog.get_by_role("button", name="Export").click()
    link = dialog.get_by_role("link", name="Download TensorFlow Lite model")
    expect(link).to_be_visible(timeout=300_000)
    with page.expect_download() as download:
        link.click()
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as package:
        assert {"model.tflite", "labels.txt", "cvexport.manifest"} <= set(package.namelist())
    dialog.get_by_label("Flavor").select_option(label="TensorFlow.js")  # another flavor: not exported yet
    expect(dialog.get_by_role("link", name="Download TensorFlow.js model")).to_have_count(0)


def test_publish_refuse_delete_then_unpublish(portal, trained, training_client):
    project, iteration = trained
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    page.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name="Publish Model")
    expect(dialog.get_by_label("Model name")).to_have_value(iteration.name.replace(" ", ""))
    dialog.get_by_label("Model name").fill("compact-model")
    dialog.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published as compact-model")).to_be_visible()

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name=f"Delete {iteration.name}?").get_by_role("button", name="Delete iteration").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"{iteration.name} is published as 'compact-model'; unpublish it first.")
    expect(alert).to_contain_text("BadRequestIterationIsPublished")
    assert training_client.get_iteration(project.id, iteration.id).publish_name == "compact-model"
    portal.screenshot("delete-refused")

    page.get_by_role("button", name="Unpublish").click()
    page.get_by_role("dialog", name=f"Unpublish {iteration.name}?").get_by_role("button", name="Unpublish").click()
    expect(page.get_by_role("button", name="Publish")).to_be_visible()
    expect(page.get_by_text("Published as compact-model")).to_have_count(0)
    assert training_client.get_iteration(project.id, iteration.id).publish_name is None


def test_training_refused_shows_the_service_message(portal, setup, make_photo):
    project, _ = setup.project("Too few", {"red": [make_photo("red", 500 + i) for i in range(2)]})
    page = portal.sign_in().open_project(project.name).page
    page.get_by_role("button", name="Train", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Train {project.name}")
    dialog.get_by_role("button", name="Train", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("BadRequestTrainingValidationFailed")


def test_quick_test_by_url(portal, trained, make_photo, file_server):
    project, iteration = trained
    file_server.files["/blue.jpg"] = make_photo("blue", 999, (160, 120))
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    page.get_by_role("button", name="Quick Test").click()
    dialog = page.get_by_role("dialog", name="Quick Test")
    dialog.get_by_label("Keep the image among the project's predictions").uncheck()
    dialog.get_by_label("Image URL").fill(file_server.url("/blue.jpg"))
    dialog.get_by_role("button", name="Quick test URL").click()
    first = dialog.get_by_role("table", name="Predictions").locator("tbody tr").first
    expect(first.get_by_role("rowheader")).to_have_text("blue")
    assert file_server.hits["/blue.jpg"] == 1  # fetched by the service, not by the browser


def test_advanced_training_with_a_budget_and_live_status(open_portal, slow_training_service, make_photo):
    setup = Setup(training_client_for(slow_training_service))
    project, _ = setup.project("Advanced", {c: [make_photo(c, 600 + i) for i in range(5)] for c in ("red", "green")})
    portal = open_portal(slow_training_service)
    page = portal.sign_in().open_project(project.name).page
    page.get_by_role("button", name="Train", exact=True).click()
    dialog = page.get_by_role("dialog", name=f"Train {project.name}")
    budget = dialog.get_by_label("Training budget (hours)")
    expect(budget).to_be_disabled()
    dialog.get_by_label("Advanced Training").check()
    expect(budget).to_be_enabled()
    budget.fill("2")
    dialog.get_by_role("button", name="Train", exact=True).click()
    expect(dialog.get_by_role("status")).to_contain_text("Iteration 1: Training…")
    portal.screenshot("training")
    expect(page.get_by_role("heading", name="Iteration 1", level=2)).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Advanced training (2 h budget)")).to_be_visible()
    iteration = setup.client.get_iterations(project.id)[0]
    assert (iteration.training_type, iteration.reserved_budget_in_hours) == ("Advanced", 2)
