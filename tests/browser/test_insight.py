"""Issue 27 in the portal: the Performance page's most confused tags (pairs, a matrix with optional heat colours)
and suspect labels (thumbnails), from the held-out results, computed as the pipeline computes them: the page
is checked against pipeline/insight on the same held-out results, read with the official SDK."""
from __future__ import annotations

import io
import random
import re

import pytest

from pipeline.insight.confusion import TOP_PAIRS, classification
from pipeline.insight.heldout import HeldOutImage
from pipeline.insight.suspects import TOP_SUSPECTS, rank

from .portal import expect

pytestmark = [pytest.mark.browser, pytest.mark.datasets]
MOVED = {"apple": "banana", "banana": "orange", "orange": "apple"}  # the first photo of each, given the wrong tag


def small(path) -> bytes:
    from PIL import Image

    with Image.open(path) as image:
        out = io.BytesIO()
        image.convert("RGB").resize((320, 240)).save(out, "JPEG", quality=85)
        return out.getvalue()


@pytest.fixture(scope="module")
def mixed(setup, datasets):
    """The fruit photos (smaller), the first of each tag in the wrong one."""
    photos = {tag: [small(p) for p in sorted((datasets / "fruit" / tag).glob("*.jpg"))] for tag in MOVED}
    images = {tag: photos[tag][1:] for tag in MOVED}
    for true, wrong in MOVED.items():
        images[wrong].append(photos[true][0])
    project, _ = setup.project("Confusion", images)
    return project, setup.train(project.id)


def held_out(client, project, iteration) -> list[HeldOutImage]:
    listed = client.get_image_performances(project.id, iteration.id, take=256)
    return [HeldOutImage(i.id, tuple(t.tag_name for t in i.tags), {p.tag_name: p.probability for p in i.predictions})
            for i in listed]


def test_most_confused_tags_as_the_pipeline_counts_them_with_heat_colours(portal, mixed, training_client):
    project, iteration = mixed
    images = held_out(training_client, project, iteration)
    expected = classification(images, sorted(MOVED), multilabel=False)
    assert expected.pairs, "the moved photos should be confused"
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    region = page.get_by_role("region", name="Most confused tags")
    rows = region.get_by_role("table", name="Most confused pairs").locator("tbody tr")
    expect(rows).to_have_count(min(len(expected.pairs), TOP_PAIRS))
    assert rows.all_inner_texts() == [f"{p.given}\t{p.predicted}\t{p.count}\t{p.rate * 100:.1f}%"
                                      for p in expected.pairs[:TOP_PAIRS]]
    expect(region).to_contain_text(f"{len(images)} held-out images, each predicted as its most probable tag.")
    matrix = region.get_by_role("table", name=re.compile("^Confusion matrix"))
    cells = [[int(c) for c in row.split("\t")[1:]] for row in matrix.locator("tbody tr").all_inner_texts()]
    shown = [t.strip() for t in matrix.locator("thead th").all_inner_texts()]
    at = {t: i for i, t in enumerate(expected.tags)}
    assert cells == [[expected.matrix[at[g]][at[q]] for q in shown] for g in shown]
    worst = matrix.locator("td.off").first
    plain = worst.evaluate("td => getComputedStyle(td).backgroundColor")
    region.get_by_label("Heat colours (each cell's share of its row)").check()
    expect(matrix).to_have_class(re.compile(r"\bheat\b"))
    assert worst.evaluate("td => getComputedStyle(td).backgroundColor") != plain
    region.scroll_into_view_if_needed()
    portal.screenshot("performance-confusion")


def test_suspect_labels_with_thumbnails_ranked_as_the_pipeline_ranks_them(portal, mixed, training_client):
    project, iteration = mixed
    expected = rank(held_out(training_client, project, iteration))
    thumbnails = {i.id: i.thumbnail_uri for i in training_client.get_image_performances(project.id, iteration.id,
                                                                                         take=256)}
    assert {(s.given, s.suggested) for s in expected[:3]} == {(wrong, true) for true, wrong in MOVED.items()}
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    region = page.get_by_role("region", name="Suspect labels")
    cards = region.get_by_role("listitem")
    expect(cards).to_have_count(min(len(expected), TOP_SUSPECTS))
    assert [c.get_attribute("aria-label") for c in cards.all()] == [
        f"Given {s.given}, suggested {s.suggested}, score {s.score:.3f}" for s in expected[:TOP_SUSPECTS]]
    expect(region).to_contain_text("Suggestions only: no label is changed.")
    first = cards.first.locator("img")
    assert first.get_attribute("src") == thumbnails[expected[0].image_id]
    first.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    portal.screenshot("performance-suspects")


def test_the_sections_say_so_when_the_service_keeps_no_held_out_results(portal, mixed):
    project, iteration = mixed

    def unknown(route):
        route.fulfill(status=404, json={"code": "NotFound", "message": "No route."})
    portal.page.route(re.compile(r".*/performance/images(/count)?(\?.*)?$"), unknown)
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    for name in ("Most confused tags", "Suspect labels"):
        expect(page.get_by_role("region", name=name)).to_contain_text("does not serve the held-out results yet")


def test_the_portals_arithmetic_is_the_pipelines(portal):
    """confusion.js and pipeline/insight on the same random held-out results, Multiclass and Multilabel, with ties."""
    rng = random.Random(3)
    tags = ["apple", "banana", "kiwi", "lime", "orange"]
    images = []
    for n in range(120):
        given = rng.sample(tags, rng.choice([1, 1, 2]))
        p = {t: round(rng.choice([rng.random(), 0.5, 0.25]), 2) for t in tags}
        images.append({"id": f"i{n:03d}", "tags": [{"tagName": t} for t in given],
                       "predictions": [{"tagName": t, "probability": v} for t, v in p.items()]})
    portal.open()
    js = portal.page.evaluate("""async (images) => {
        const m = await import('/portal/js/confusion.js');
        const strip = (c) => ({matrix: c.matrix, pairs: c.pairs, perTag: c.perTag});
        return {multiclass: strip(m.confusion(images)), multilabel: strip(m.confusion(images, {multilabel: true,
                threshold: 0.5})), suspects: m.suspects(images, {every: true}).map((s) => [s.image.id, s.given, s.suggested,
                s.score])};
      }""", images)
    ours = [HeldOutImage(i["id"], tuple(t["tagName"] for t in i["tags"]),
                         {p["tagName"]: p["probability"] for p in i["predictions"]}) for i in images]
    for kind, multilabel in (("multiclass", False), ("multilabel", True)):
        expected = classification(ours, tags, multilabel, 0.5)
        assert js[kind]["matrix"] == expected.matrix
        assert js[kind]["perTag"] == {t: vars(c) for t, c in expected.per_tag.items()}
        assert [(p["given"], p["predicted"], p["images"]) for p in js[kind]["pairs"]] == [
            (p.given, p.predicted, p.count) for p in expected.pairs]
    assert [(i, g, s, pytest.approx(v)) for i, g, s, v in js["suspects"]] == [
        (s.image_id, s.given, s.suggested, s.score) for s in rank(ours, every=True)]
    assert len(js["suspects"]) == len(images)
    above = portal.page.evaluate("""async (images) => {
        const m = await import('/portal/js/confusion.js');
        return m.suspects(images, {minScore: 0.6}).map((s) => s.image.id); }""", images)
    assert above == [s.image_id for s in rank(ours, min_score=0.6)] and above
