"""Training images: upload results per file (Custom Vision's refusals), drag and drop, tag / untag / delete the
selected images, the tag filter with counts, paging."""
from __future__ import annotations

import base64
import io
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from .portal import expect

pytestmark = pytest.mark.browser


def seven_megabyte_png() -> bytes:
    """Noise does not compress: a 1,600 x 1,500 RGB PNG of it is about 7.2 MB, over the 6 MB upload limit."""
    pixels = np.random.default_rng(7).integers(0, 256, (1500, 1600, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    assert 6.5e6 < out.tell() < 8e6
    return out.getvalue()


def open_upload(page):
    page.get_by_role("button", name="Add images").click()
    return page.get_by_role("dialog", name="Image upload")


def test_refusals_are_shown_per_file(portal, setup, make_photo, tmp_path, training_client):
    project, _ = setup.project("Refusals")
    good, text, big = tmp_path / "good.jpg", tmp_path / "notes.txt", tmp_path / "huge.png"
    good.write_bytes(make_photo("red", 1, (320, 240)))
    text.write_text("this is not an image\n")
    big.write_bytes(seven_megabyte_png())
    page = portal.sign_in().open_project(project.name).page
    upload = open_upload(page)
    upload.get_by_label("Browse local files").set_input_files([good, text, big])
    upload.get_by_role("button", name="Upload 3 files").click()
    expect(upload.get_by_text("Done: 1 uploaded, 0 duplicate, 2 refused.")).to_be_visible(timeout=60_000)
    results = upload.get_by_role("table", name="Upload results")
    expect(results.get_by_role("row", name=re.compile("^good.jpg"))).to_contain_text("Uploaded")
    expect(results.get_by_role("row", name=re.compile("^notes.txt"))).to_contain_text("Bad format")
    expect(results.get_by_role("row", name=re.compile("^notes.txt"))).to_contain_text("ErrorImageFormat")
    big_row = results.get_by_role("row", name=re.compile("^huge.png"))
    expect(big_row).to_contain_text("Too big")
    expect(big_row).to_contain_text("ErrorImageSize")
    expect(big_row).to_contain_text("the limit is 6,291,456 bytes")  # the service's own words
    portal.screenshot("upload-refusals")
    upload.get_by_role("button", name="Close", exact=True).click()
    expect(page.get_by_text("Images 1–1 of 1")).to_be_visible()
    assert training_client.get_image_count(project.id) == 1

    # the same file again: Custom Vision's duplicate status
    upload = open_upload(page)
    upload.get_by_label("Browse local files").set_input_files([good])
    upload.get_by_role("button", name="Upload 1 file").click()
    expect(upload.get_by_role("row", name=re.compile("^good.jpg"))).to_contain_text("Duplicate")


def test_drag_and_drop_upload_with_tags_for_the_batch(portal, setup, make_photo, training_client):
    project, tags = setup.project("Dropped", {"red": [make_photo("red", 100 + i) for i in range(2)]})
    page = portal.sign_in().open_project(project.name).page
    upload = open_upload(page)
    files = [(f"drop{i}.jpg", base64.b64encode(make_photo("blue", i, (320, 240))).decode()) for i in range(3)]
    transfer = page.evaluate_handle("""(files) => {
        const transfer = new DataTransfer();
        for (const [name, b64] of files) {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          transfer.items.add(new File([bytes], name, {type: "image/jpeg"}));
        }
        return transfer;
      }""", files)
    zone = upload.get_by_role("group", name="Drop images here")
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(upload.get_by_text("3 files chosen")).to_be_visible()
    upload.get_by_role("checkbox", name="red").check()
    upload.get_by_label("New tag").fill("blue")
    upload.get_by_label("New tag").press("Enter")  # Enter adds the tag, it does not submit anything
    expect(upload.get_by_role("checkbox", name="blue")).to_be_checked()
    upload.get_by_role("button", name="Upload 3 files").click()
    expect(upload.get_by_text("Done: 3 uploaded, 0 duplicate, 0 refused.")).to_be_visible()
    upload.get_by_role("button", name="Close", exact=True).click()
    filters = page.get_by_role("complementary", name="Filter images")
    expect(filters.get_by_text("blue (3)")).to_be_visible()
    expect(filters.get_by_text("red (5)")).to_be_visible()  # 2 before + the 3 dropped (both tags)
    assert {t.name: t.image_count for t in training_client.get_tags(project.id)} == {"red": 5, "blue": 3}


def test_tag_untag_and_delete_selected_images(portal, setup, make_photo, training_client):
    project, tags = setup.project("Selection", {"red": [make_photo("red", 200)]},
                                  untagged=[make_photo("green", 200 + i) for i in range(5)])
    page = portal.sign_in().open_project(project.name).page
    filters = page.get_by_role("complementary", name="Filter images")
    expect(filters.get_by_label("Untagged (5)")).to_be_visible()
    filters.get_by_label("Untagged (5)").check()
    expect(page.get_by_text("Images 1–5 of 5")).to_be_visible()
    grid = page.get_by_role("list", name="Training images")
    boxes = grid.get_by_role("checkbox", name=re.compile(r"\(untagged\)$"))
    expect(boxes).to_have_count(5)
    boxes.nth(0).check()
    boxes.nth(1).check()
    toolbar = page.get_by_role("toolbar", name="Selected images")
    expect(toolbar.get_by_text("2 selected")).to_be_visible()
    toolbar.get_by_role("combobox", name="Tag").select_option(label="red")
    toolbar.get_by_role("button", name="Add tag to selected").click()
    expect(filters.get_by_label("Untagged (3)")).to_be_visible()
    expect(filters.get_by_text("red (3)")).to_be_visible()
    assert training_client.get_untagged_image_count(project.id) == 3

    filters.get_by_role("checkbox", name="red").check()
    # the untagged page (3 images too) may still be drawing when red's is asked for: select on red's page only
    expect(grid.get_by_role("checkbox", name=re.compile(r"\(red\)$"))).to_have_count(3)
    portal.settle()
    expect(page.get_by_text("Images 1–3 of 3")).to_be_visible()
    grid.get_by_role("checkbox").first.check()
    expect(toolbar.get_by_text("1 selected")).to_be_visible()
    toolbar.get_by_role("button", name="Remove tag from selected").click()
    expect(filters.get_by_text("red (2)")).to_be_visible()
    expect(filters.get_by_label("Untagged (4)")).to_be_visible()

    toolbar.get_by_label("Select all on this page").check()
    expect(toolbar.get_by_text("2 selected")).to_be_visible()
    toolbar.get_by_role("button", name="Delete selected").click()
    page.get_by_role("dialog", name="Delete 2 images?").get_by_role("button", name="Delete images").click()
    expect(filters.get_by_label("All images (4)")).to_be_visible()
    expect(filters.get_by_text("red (0)")).to_be_visible()
    assert training_client.get_image_count(project.id) == 4


def test_paging_asks_for_one_page_at_a_time_with_lazy_thumbnails(portal, setup, make_photo):
    project, _ = setup.project("Paging", {"yellow": [make_photo("yellow", 300 + i) for i in range(70)]})
    page = portal.sign_in().open_project(project.name).page
    expect(page.get_by_text("Images 1–60 of 70")).to_be_visible()
    grid = page.get_by_role("list", name="Training images")
    expect(grid.get_by_role("checkbox")).to_have_count(60)
    assert grid.locator("img").first.get_attribute("loading") == "lazy"
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Images 61–70 of 70")).to_be_visible()
    expect(grid.get_by_role("checkbox")).to_have_count(10)
    expect(page.get_by_role("checkbox", name="Select image 61 (yellow)")).to_be_visible()
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(page.get_by_text("Images 1–60 of 70")).to_be_visible()
    listings = [parse_qs(urlparse(u).query) for u in portal.request_urls
                if re.search(r"/images(/tagged|/untagged)?\?", u)]
    assert listings and all(int(q["take"][0]) <= 256 for q in listings)
    assert {q["skip"][0] for q in listings} == {"0", "60"}
