"""Object detection in the portal (issue 24): create a detection project, see each image's boxes, draw, move,
resize, retag and delete boxes with the mouse and the keyboard, accept suggested regions, train, quick-test with a
threshold slider, read mAP and per-tag AP at an overlap threshold, add a stored detection with its boxes; two tabs
never lose a box silently; what is dragged outside the image is clipped; tag names stay text."""
from __future__ import annotations

import re
import uuid

import pytest

from harness.images import scene
from .portal import expect

pytestmark = pytest.mark.browser

GENERAL_OD = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
XSS = '<img src=x onerror="window.__xss=1">'


def upload_scenes(client, project_id: str, tag_ids: dict[str, str], per_tag: int, first_seed: int = 0) -> None:
    """Scenes (a block of each colour of `tag_ids` on grey clutter) uploaded with the block as their region."""
    from azure.cognitiveservices.vision.customvision.training.models import (ImageFileCreateBatch,
                                                                             ImageFileCreateEntry, Region)
    entries = []
    for colour, tag_id in tag_ids.items():
        for seed in range(first_seed, first_seed + per_tag):
            data, box = scene(colour, seed)
            entries.append(ImageFileCreateEntry(name=f"{colour}{seed}.jpg", contents=data,
                                                regions=[Region(tag_id=tag_id, left=box[0], top=box[1],
                                                                width=box[2], height=box[3])]))
    for start in range(0, len(entries), 64):
        summary = client.create_images_from_files(project_id, ImageFileCreateBatch(images=entries[start:start + 64]))
        assert summary.is_batch_successful, [i.status for i in summary.images]


def detection_project(client, name: str, tags=("red", "blue"), per_tag: int = 15):
    """A project whose tags are drawn as red and blue blocks (in that order)."""
    project = client.create_project(f"{name} {uuid.uuid4().hex[:6]}", domain_id=GENERAL_OD)
    tag_ids = {t: client.create_tag(project.id, t).id for t in tags}
    upload_scenes(client, project.id, dict(zip(("red", "blue"), tag_ids.values())), per_tag)
    return project, tag_ids


def regions_of(client, project_id: str, image_id: str):
    (image,) = client.get_images_by_ids(project_id, image_ids=[image_id])
    return sorted(((r.tag_name, r.left, r.top, r.width, r.height) for r in image.regions or []), key=str)


def open_editor(page, number: int):
    page.get_by_role("button", name=re.compile(f"^Edit the regions of image {number} ")).click()
    editor = page.get_by_role("dialog", name="Image regions")
    expect(editor.get_by_role("status").filter(has_text=f"Image {number} of")).to_be_visible()
    return editor


def drag(page, layer, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag between two points given as fractions of the image (beyond 0-1: outside it)."""
    box = layer.bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=6)
    page.mouse.up()


def slide(slider, value: int) -> None:
    """Move a range input as a user does: its value changes and it fires `input`."""
    slider.evaluate("(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }",
                    value)


def free_corner(regions, taken=()) -> tuple[tuple[float, float], tuple[float, float]]:
    """A drag from an image corner that starts inside no box (so it draws a new one rather than moving one)."""
    boxes = [(r.left, r.top, r.width, r.height) for r in regions] + list(taken)
    for x, y, dx, dy in ((0.02, 0.02, 1, 1), (0.98, 0.98, -1, -1), (0.02, 0.98, 1, -1), (0.98, 0.02, -1, 1)):
        if not any(l <= x <= l + w and t <= y <= t + h for l, t, w, h in boxes):
            return (x, y), (x + 0.12 * dx, y + 0.12 * dy)
    raise AssertionError("every corner is inside a box")


def test_the_geometry_of_boxes(portal):
    portal.open()
    found = portal.page.evaluate("""async () => {
        const g = await import('/portal/js/regions/geometry.js');
        const box = {left: 0.5, top: 0.5, width: 0.2, height: 0.2};
        const saved = [{regionId: "r1", tagId: "t", ...box}, {regionId: "r2", tagId: "t", left: 0, top: 0,
                        width: 0.1, height: 0.1}];
        const boxes = [{regionId: "r1", tagId: "u", ...box}, {regionId: null, tagId: "t", left: 0.2, top: 0.2,
                        width: 0.1, height: 0.1}];
        return [g.fromCorners(0.8, 1.7, -0.3, 0.4), g.moved(box, 0.9, -0.9), g.resized(box, "nw", 0.9, 0.9),
                g.changes(saved, boxes, "img"), g.valid({left: 0.9, top: 0, width: 0.2, height: 0.1}),
                g.sameRegions(saved, [...saved].reverse())];
      }""")
    clipped, moved, flipped, changes, valid, same = found
    assert clipped == {"left": 0, "top": 0.4, "width": 0.8, "height": 0.6}  # dragged outside: clipped
    assert moved == {"left": 0.8, "top": 0, "width": 0.2, "height": 0.2}   # stopped at the edges, size kept
    assert [round(v, 6) for v in flipped.values()] == [0.7, 0.7, 0.2, 0.2]  # a handle dragged past the box
    assert changes["remove"] == ["r1", "r2"] and [c["tagId"] for c in changes["create"]] == ["u", "t"]
    assert valid is False and same is True


@pytest.mark.slow
def test_detection_walkthrough(portal, training_client, make_photo, tmp_path):
    page = portal.sign_in().page
    name = "Wildlife Watch (portal)"

    # Create an object detection project
    page.get_by_role("button", name="New project").click()
    create = page.get_by_role("dialog", name="Create new project")
    create.get_by_label("Name").fill(name)
    create.get_by_label("Object Detection").check()
    expect(create.get_by_label("Multiclass (Single tag per image)")).to_be_hidden()
    expect(create.get_by_label("Food")).to_have_count(0)
    create.get_by_label("General", exact=True).check()
    create.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    project = next(p for p in training_client.get_projects() if p.name == name)
    assert project.settings.domain_id == GENERAL_OD
    tag_ids = {t: training_client.create_tag(project.id, t).id for t in ("red", "blue")}
    upload_scenes(training_client, project.id, tag_ids, 15)

    # One more image through the upload dialog (no tags: boxes tag it), then a box drawn on it
    photo = tmp_path / "new-scene.jpg"
    data, block = scene("red", 99)  # block: where its red block is (left, top, width, height)
    photo.write_bytes(data)
    page.reload()
    page.get_by_role("button", name="Add images").click()
    upload = page.get_by_role("dialog", name="Image upload")
    expect(upload.get_by_text("tagged by the boxes you draw")).to_be_visible()
    upload.get_by_label("Browse local files").set_input_files([photo])
    upload.get_by_role("button", name="Upload 1 file").click()
    expect(upload.get_by_text("Done: 1 uploaded, 0 duplicate, 0 refused.")).to_be_visible(timeout=30_000)
    upload.get_by_role("button", name="Close", exact=True).click()
    page.get_by_label(re.compile(r"^Untagged \(1\)")).check()
    editor = open_editor(page, 1)
    layer = editor.get_by_role("application")
    drag(page, layer, block[:2], (block[0] + block[2], block[1] + block[3]))  # around the block
    expect(editor.get_by_text("1 box · Unsaved changes · 1 without a tag")).to_be_visible()
    editor.get_by_label("Tag for boxes").fill("red")
    editor.get_by_role("button", name="Use tag").click()
    expect(editor.get_by_role("combobox", name="Tag of box 1")).to_have_value(tag_ids["red"])
    # the keyboard: 2 retags the selected box blue, Delete removes it, Ctrl+Z brings it back, arrows move it
    layer.focus()
    page.keyboard.press("2")
    expect(editor.get_by_role("combobox", name="Tag of box 1")).to_have_value(tag_ids["blue"])
    page.keyboard.press("Delete")
    expect(editor.get_by_text("0 boxes · Saved")).to_be_visible()
    page.keyboard.press("Control+z")
    page.keyboard.press("1")
    page.keyboard.press("Shift+ArrowRight")
    expect(editor.get_by_text("1 box · Unsaved changes")).to_be_visible()
    portal.screenshot("detection-editor")
    (new_image,) = training_client.get_untagged_images(project.id)
    editor.get_by_role("button", name="Save").click()
    expect(editor.get_by_text("Saved: 0 removed, 1 added.")).to_be_visible()
    ((tag, left, top, width, height),) = regions_of(training_client, project.id, new_image.id)
    shift = 10 / layer.bounding_box()["width"]  # Shift+ArrowRight: 10 pixels of the image as shown
    assert tag == "red" and abs(left - min(block[0] + shift, 1 - block[2])) < 0.01 and abs(width - block[2]) < 0.01
    assert abs(top - block[1]) < 0.01 and abs(height - block[3]) < 0.01
    editor.get_by_role("button", name="Close this dialog").click()
    expect(editor).to_be_hidden()

    # Each image's boxes on the grid
    page.get_by_label(re.compile(r"^All images \(31\)")).check()
    expect(page.get_by_role("button", name=re.compile(r"^Edit the regions of image \d+ \(1 box: "))).to_have_count(31)
    expect(page.locator(".tile .box-layer .box")).to_have_count(31)
    portal.screenshot("detection-images")

    # Train, then Performance: mAP and per-tag AP at an overlap threshold
    page.get_by_role("button", name="Train").click()
    train = page.get_by_role("dialog", name=f"Train {name}")
    train.get_by_role("button", name="Train").click()
    expect(page.get_by_role("heading", name="Iteration 1", level=2)).to_be_visible(timeout=600_000)
    expect(page.get_by_text("Object Detection", exact=False).first).to_be_visible()
    expect(page.get_by_text("mAP", exact=True)).to_be_visible()
    expect(page.locator('[data-metric="averagePrecision"]')).to_have_text(re.compile(r"\d+\.\d%"))
    rows = page.get_by_role("table", name="Performance per tag").locator("tbody tr")
    expect(rows).to_have_count(2)
    slide(page.get_by_label("Overlap Threshold"), 50)
    expect(page.locator("#overlap-value")).to_have_text("50%")
    page.wait_for_function("() => !document.querySelector('[aria-busy=\"true\"]')")
    page.wait_for_timeout(300)  # the slider's debounce
    assert any("overlapThreshold=0.5" in u for u in portal.request_urls)
    portal.screenshot("detection-performance")

    # Region proposals from the trained iteration, offered as suggestions to accept
    page.get_by_role("link", name="Training Images").click()
    editor = open_editor(page, 2)
    editor.get_by_role("button", name="Suggest regions").click()
    suggestion = editor.get_by_role("button", name=re.compile(r"^Accept suggested region 1 "))
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(editor.get_by_text("2 boxes · Unsaved changes")).to_be_visible()
    editor.get_by_role("button", name="Discard changes").click()
    expect(editor.get_by_text("1 box · Saved")).to_be_visible()
    editor.get_by_role("button", name="Close this dialog").click()

    # Quick Test: the detected boxes over the image, filtered by a probability slider; kept as a prediction
    test_photo = tmp_path / "quick.jpg"
    test_photo.write_bytes(scene("blue", 500)[0])
    page.get_by_role("button", name="Quick Test").click()
    quick = page.get_by_role("dialog", name="Quick Test")
    quick.get_by_label("Browse local files").set_input_files([test_photo])
    expect(quick.locator(".box-layer .box").first).to_be_visible(timeout=30_000)
    caption = quick.get_by_role("table").locator("caption")
    expect(caption).to_contain_text("Detected objects")
    portal.screenshot("detection-quicktest")
    slide(quick.get_by_label("Probability threshold"), 100)
    expect(quick.locator(".box-layer .box")).to_have_count(0)
    slide(quick.get_by_label("Probability threshold"), 0)
    assert quick.locator(".box-layer .box").count() >= 1
    quick.get_by_role("button", name="Close this dialog").click()

    # Predictions: the stored detection with its boxes; added to the training images with them
    page.get_by_role("link", name="Predictions").click()
    page.get_by_label("At least (%)").fill("1")
    page.get_by_label("At least (%)").dispatch_event("change")
    # the page's first query and the one the new threshold asks for may both be in flight: act on the last one's
    # card only, not on one a later answer replaces under the click
    expect(page.get_by_role("status").filter(has_text="1 stored prediction shown")).to_be_visible()
    portal.settle()
    card = page.locator("li.prediction").first
    expect(card.locator(".box-layer .box").first).to_be_attached()
    add = card.get_by_role("button", name=re.compile(r"^Add with \d+ box"))
    boxes = int(re.search(r"\d+", add.inner_text()).group())
    with page.expect_response(lambda r: r.url.endswith("/images/predictions") and r.request.method == "POST",
                              timeout=60_000) as answered:
        add.click()
    assert answered.value.status == 200, answered.value.text()
    # the image copied into a training image with its boxes: seconds on a loaded machine
    expect(page.get_by_text(f"Added to the training images with {boxes} region")).to_be_visible(timeout=30_000)
    assert training_client.get_image_count(project.id) == 32
    assert portal.dialogs == []


def test_two_tabs_editing_one_image_never_lose_a_box_silently(portal, open_portal, training_client):
    project, tag_ids = detection_project(training_client, "Two tabs", per_tag=1)

    def counts() -> dict[str, list[str]]:
        return {i.id: sorted(r.tag_name for r in i.regions) for i in training_client.get_images(project.id)}
    before = counts()
    first = portal.sign_in().open_project(project.name).page
    other = open_portal(portal.service).sign_in().open_project(project.name).page
    a, b = open_editor(first, 1), open_editor(other, 1)  # the same image in both tabs
    regions = [r for i in training_client.get_images(project.id) for r in i.regions]
    start, end = free_corner(regions)
    second_start, second_end = free_corner(regions, [(min(start[0], end[0]), min(start[1], end[1]), 0.12, 0.12)])
    drag(first, a.get_by_role("application"), start, end)
    first.keyboard.press("1")
    a.get_by_role("button", name="Save").click()
    expect(a.get_by_text("Saved: 0 removed, 1 added.")).to_be_visible()
    after_first = counts()
    (edited,) = [i for i in before if len(after_first[i]) == len(before[i]) + 1]

    drag(other, b.get_by_role("application"), second_start, second_end)
    other.keyboard.press("2")
    b.get_by_role("button", name="Save").click()
    expect(b.get_by_role("alert")).to_contain_text("changed elsewhere (another tab or user)")
    expect(b.get_by_text("Unsaved changes")).to_be_visible()  # the second tab's box is still on its page
    assert counts() == after_first  # the first tab's box is kept, nothing of the second's written
    b.get_by_role("button", name="Reload image").click()
    expect(b.get_by_text(f"{len(after_first[edited])} boxes · Saved")).to_be_visible()
    drag(other, b.get_by_role("application"), second_start, second_end)
    other.keyboard.press("2")
    b.get_by_role("button", name="Save").click()
    expect(b.get_by_text("Saved: 0 removed, 1 added.")).to_be_visible()
    assert counts()[edited] == sorted(after_first[edited] + ["blue"])


def test_boxes_dragged_outside_the_image_are_clipped(portal, training_client):
    project, tag_ids = detection_project(training_client, "Clipped", per_tag=1)
    page = portal.sign_in().open_project(project.name).page
    editor = open_editor(page, 1)
    layer = editor.get_by_role("application")
    # the existing box dragged far past the top-left corner: it stops at the edges, its size kept
    spot = layer.locator(".region").first.bounding_box()
    page.mouse.move(spot["x"] + spot["width"] / 2, spot["y"] + spot["height"] / 2)
    page.mouse.down()
    page.mouse.move(spot["x"] - 2000, spot["y"] - 2000, steps=4)
    page.mouse.up()
    drag(page, layer, (0.9, 0.9), (1.8, 1.6))  # a new box drawn to far past the bottom-right corner
    page.keyboard.press("1")
    editor.get_by_role("button", name="Save").click()
    expect(editor.get_by_text(re.compile(r"^Saved: 1 removed, 2 added"))).to_be_visible()
    (image,) = [i for i in training_client.get_images(project.id) if len(i.regions) == 2]
    boxes = sorted((r.left, r.top, r.width, r.height) for r in image.regions)
    assert boxes[0][:2] == (0.0, 0.0)
    corner = max(boxes, key=lambda b: b[0])
    assert abs(corner[0] + corner[2] - 1.0) < 1e-6 and abs(corner[1] + corner[3] - 1.0) < 1e-6
    assert all(0 <= v <= 1 and b[0] + b[2] <= 1 + 1e-6 and b[1] + b[3] <= 1 + 1e-6 for b in boxes for v in b)


def test_tag_names_with_markup_stay_text_on_boxes(portal, training_client):
    project, tag_ids = detection_project(training_client, "Markup", tags=(XSS, "plain"), per_tag=1)
    page = portal.sign_in().open_project(project.name).page
    expect(page.get_by_role("button", name=re.compile(r"^Edit the regions of image 1 ")).first).to_be_visible()
    editor = open_editor(page, 1)
    expect(editor.locator(".region .box-label").first).to_have_text(re.compile(re.escape(XSS) + "|plain"))
    expect(editor.get_by_role("button", name=f"1 {XSS}")).to_be_visible()
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0
    assert portal.dialogs == []
