"""The seed's lab, end to end in the browser, and then the published model called with the official SDK.

Sign in, create "Grocery Checkout" (Food, Multiclass), upload the fruit images with their tags through the file
picker, quick-train, read per-tag precision / recall / AP, move the threshold and see the service's new numbers,
quick-test new photos, publish as "groceries", read the prediction URL from its dialog, classify through it.
"""
from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest
from .portal import NARROW, WIDE, expect

pytestmark = [pytest.mark.browser, pytest.mark.datasets, pytest.mark.slow]
TAGS = ("apple", "banana", "orange")


def shown(value: float) -> str:
    """How the portal writes a ratio."""
    return f"{value * 100:.1f}%"


def upload_tagged(page, folder, tag: str) -> None:
    page.get_by_role("button", name="Add images").click()
    dialog = page.get_by_role("dialog", name="Image upload")
    files = sorted(folder.glob("*.jpg"))
    dialog.get_by_label("Browse local files").set_input_files(files)
    expect(dialog.get_by_text(f"{len(files)} files chosen")).to_be_visible()
    dialog.get_by_label("New tag").fill(tag)
    dialog.get_by_role("button", name="Add tag").click()
    expect(dialog.get_by_role("checkbox", name=tag, exact=True)).to_be_checked()
    dialog.get_by_role("button", name=f"Upload {len(files)} files").click()
    expect(dialog.get_by_text(f"Done: {len(files)} uploaded, 0 duplicate, 0 refused.")).to_be_visible(timeout=60_000)
    for file in files:
        expect(dialog.get_by_role("row", name=re.compile(re.escape(file.name)))).to_contain_text("Uploaded")
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()


def per_tag_rows(page) -> dict[str, list[str]]:
    table = page.get_by_role("table", name="Performance per tag")
    rows = {}
    for row in table.locator("tbody tr").all():
        cells = [c.inner_text().strip() for c in row.locator("th, td").all()]
        rows[cells[0]] = cells[1:]
    return rows


def metric(page, name: str) -> str:
    return page.locator(f'[data-metric="{name}"]').inner_text()


def test_seed_walkthrough_in_the_browser(portal, datasets, training_client, prediction_client):
    page, service = portal.page, portal.service
    portal.sign_in(prediction_key=service.prediction_key)

    # Create "Grocery Checkout": Classification, Multiclass, Food
    page.get_by_role("button", name="New project").click()
    create = page.get_by_role("dialog", name="Create new project")
    create.get_by_label("Name").fill("Grocery Checkout")
    create.get_by_label("Description").fill("The Custom Vision lab's fruit classifier")
    create.get_by_label("Multiclass (Single tag per image)").check()
    create.get_by_label("Food", exact=True).check()
    create.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Grocery Checkout", level=1)).to_be_visible()
    project = next(p for p in training_client.get_projects() if p.name == "Grocery Checkout")
    assert project.settings.classification_type == "Multiclass"
    assert project.settings.domain_id == "c151d5b5-dd07-472a-acc8-15d29dea8518"  # Food

    # Upload each tag's images through the file picker, the tag chosen for the batch
    for tag in TAGS:
        upload_tagged(page, datasets / "fruit" / tag, tag)
    filters = page.get_by_role("complementary", name="Filter images")
    for tag in TAGS:
        expect(filters.get_by_text(f"{tag} (15)")).to_be_visible()
    expect(filters.get_by_label("All images (45)")).to_be_visible()
    expect(filters.get_by_label("Untagged (0)")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Images 1–45 of 45")).to_be_visible()
    filters.get_by_role("checkbox", name="banana").check()
    expect(page.get_by_text("Images 1–15 of 15")).to_be_visible()
    expect(page.get_by_role("list", name="Training images").get_by_role("checkbox")).to_have_count(15)
    expect(page.get_by_role("checkbox", name=re.compile(r"^Select image \d+ \(banana\)$"))).to_have_count(15)
    portal.screenshot("images")

    # Quick training, followed live until the iteration's performance page
    page.get_by_role("button", name="Train", exact=True).click()
    train = page.get_by_role("dialog", name="Train Grocery Checkout")
    expect(train.get_by_label("Quick Training")).to_be_checked()
    train.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("heading", name="Iteration 1", level=2)).to_be_visible(timeout=240_000)
    iteration = training_client.get_iterations(project.id)[0]
    assert iteration.status == "Completed"

    # Per-tag precision / recall / AP at 50%, as the service computes them
    at_half = training_client.get_iteration_performance(project.id, iteration.id, threshold=0.5)
    expect(page.get_by_role("table", name="Performance per tag").locator("tbody tr")).to_have_count(3)
    rows = per_tag_rows(page)
    for tag in at_half.per_tag_performance:
        assert rows[tag.name][:3] == [shown(tag.precision), shown(tag.recall), shown(tag.average_precision)]
        assert rows[tag.name][3] == "15"
    assert metric(page, "precision") == shown(at_half.precision)
    assert at_half.precision >= 0.9 and at_half.recall >= 0.9  # the lab's "near 100%"
    expect(page.get_by_role("button", name="Export")).to_be_disabled()  # Food is not a compact domain
    portal.screenshot("performance")

    # Move the threshold: the page shows the service's numbers at the new threshold
    moved = next(t for t in (90, 95, 99, 100) if _differs(training_client.get_iteration_performance(
        project.id, iteration.id, threshold=t / 100), at_half))
    at_moved = training_client.get_iteration_performance(project.id, iteration.id, threshold=moved / 100)
    with page.expect_response(lambda r: "/performance?threshold=" in r.url
                              and float(r.url.rsplit("=", 1)[1]) == moved / 100) as answer:
        page.get_by_label("Probability Threshold").fill(str(moved))
    assert answer.value.ok
    expect(page.locator("#threshold-value")).to_have_text(f"{moved}%")
    expect(page.locator('[data-metric="recall"]')).to_have_text(shown(at_moved.recall))
    expect(page.locator('[data-metric="precision"]')).to_have_text(shown(at_moved.precision))
    rows = per_tag_rows(page)
    for tag in at_moved.per_tag_performance:
        assert rows[tag.name][:2] == [shown(tag.precision), shown(tag.recall)]

    # Quick test new photos (the lab's fruit-extra): the right tag comes first
    page.get_by_role("button", name="Quick Test").click()
    quick = page.get_by_role("dialog", name="Quick Test")
    for tag in TAGS:
        photo = sorted((datasets / "fruit-extra" / tag).glob("*.jpg"))[0]
        quick.get_by_label("Browse local files").set_input_files(photo)
        first = quick.get_by_role("table", name="Predictions").locator("tbody tr").first
        expect(first.get_by_role("rowheader")).to_have_text(tag, timeout=30_000)
    portal.screenshot("quick-test")
    quick.get_by_role("button", name="Close this dialog").click()

    # Publish as "groceries"
    page.get_by_role("button", name="Publish").click()
    publish = page.get_by_role("dialog", name="Publish Model")
    publish.get_by_label("Model name").fill("groceries")
    expect(publish.get_by_label("Prediction resource")).to_have_value(service.prediction_resource_id)
    publish.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published as groceries")).to_be_visible()
    assert training_client.get_iteration(project.id, iteration.id).publish_name == "groceries"

    # The Prediction URL dialog, as the Azure portal shows it
    page.get_by_role("button", name="Prediction URL").click()
    how = page.get_by_role("dialog", name="How to use the Prediction API")
    image_url = how.get_by_role("textbox", name="Prediction URL for an image file").input_value()
    url_url = how.get_by_role("textbox", name="Prediction URL for an image URL").input_value()
    base = f"{service.endpoint}/customvision/v3.0/Prediction/{project.id}/classify/iterations/groceries"
    assert (image_url, url_url) == (f"{base}/image", f"{base}/url")
    expect(how.get_by_text("Set Prediction-Key Header to : " + service.prediction_key).first).to_be_visible()
    expect(how.get_by_text("Set Content-Type Header to : application/octet-stream")).to_be_visible()
    expect(how.get_by_text('Set Body to : {"Url": "https://example.com/image.png"}')).to_be_visible()
    portal.screenshot("prediction-url")
    how.get_by_role("button", name="Close this dialog").click()

    # Outside the browser: the official SDK, with what the dialog gave
    match = re.fullmatch(r"(https?://[^/]+)/customvision/v3\.0/Prediction/([^/]+)/classify/iterations/([^/]+)/image",
                         image_url)
    endpoint, project_id, published_name = match.group(1), match.group(2), unquote(match.group(3))
    assert (endpoint, project_id) == (service.endpoint, project.id)
    for tag in TAGS:
        photo = sorted((datasets / "fruit-extra" / tag).glob("*.jpg"))[-1]
        result = prediction_client.classify_image(project_id, published_name, photo.read_bytes())
        assert result.predictions[0].tag_name == tag
        # and the URL itself, as the dialog's recipe says (raw bytes, Prediction-Key header)
        raw = httpx.post(image_url, content=photo.read_bytes(), timeout=60,
                         headers={"Prediction-Key": service.prediction_key, "Content-Type": "application/octet-stream"})
        assert raw.status_code == 200 and raw.json()["predictions"][0]["tagName"] == tag

    # The narrow window: the same pages stay usable
    page.set_viewport_size(NARROW)
    expect(page.get_by_label("Probability Threshold")).to_be_visible()
    portal.screenshot("performance-narrow")
    page.get_by_role("link", name="Training Images").click()
    expect(page.get_by_text("Images 1–45 of 45")).to_be_visible()
    portal.screenshot("images-narrow")
    page.set_viewport_size(WIDE)
    page.get_by_role("link", name="Projects", exact=True).click()
    expect(page.get_by_role("link", name="Grocery Checkout")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Grocery Checkout")).to_contain_text("groceries (Iteration 1)")
    portal.screenshot("projects")

    # The training key went in headers only: never in a URL, the page, or the service's log
    key = service.training_key
    assert not [u for u in portal.request_urls if key in u]
    assert key not in page.content()
    assert key not in service.log()


def _differs(a, b) -> bool:
    return (round(a.precision, 3), round(a.recall, 3)) != (round(b.precision, 3), round(b.recall, 3))
