"""The pages over the held-out results and the stored predictions (issue 17's "Service API gaps"): the per-tag
precision-recall curves, the Predictions page with its filters and tag-and-add loop, and thumbnails kept by the
browser. Against an older service without those routes the pages say so in place: the degrade tests play that
service by answering those routes' 404 in the browser, the way such a service answers an unknown route."""
from __future__ import annotations

import re

import httpx
import pytest

from .portal import expect

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def trained(setup, make_photo):
    """Two tags, each with two photos of the other colour among its eight: the held-out heads err on some, so the
    curves have more than one step."""
    project, _ = setup.project("Curves", {
        "red": [make_photo("red", 700 + i, (160, 120)) for i in range(6)] +
               [make_photo("blue", 720 + i, (160, 120)) for i in range(2)],
        "blue": [make_photo("blue", 740 + i, (160, 120)) for i in range(6)] +
                [make_photo("red", 760 + i, (160, 120)) for i in range(2)]})
    return project, setup.train(project.id)


def unknown_route(route):
    """What a service without the route answers (api/application.py): 404 with Custom Vision's NotFound."""
    route.fulfill(status=404, json={"code": "NotFound", "message": f"No route {route.request.method} "
                                                                   f"{route.request.url.split('?')[0]}."})


def test_curves_say_clearly_when_the_service_does_not_serve_held_out_results(portal, trained):
    project, iteration = trained
    portal.page.route(re.compile(r".*/performance/images(/count)?(\?.*)?$"), unknown_route)
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    curves = page.get_by_role("region", name="Precision-recall curve per tag")
    expect(curves.get_by_role("status")).to_contain_text(
        "does not serve the held-out results yet (get_image_performances)")
    expect(page.get_by_role("table", name="Performance per tag").locator("tbody tr")).to_have_count(2)


def test_precision_recall_curve_per_tag(portal, trained, training_client):
    project, iteration = trained
    page = portal.sign_in().open_performance(project.name, iteration.name).page
    held_out = training_client.get_image_performances(project.id, iteration.id, take=256)
    curves = page.get_by_role("region", name="Precision-recall curve per tag")
    for tag in training_client.get_tags(project.id):
        scored = sorted(((next((p.probability for p in i.predictions if p.tag_id == tag.id), 0.0),
                          any(t.tag_id == tag.id for t in i.tags)) for i in held_out), reverse=True)
        predicted = [positive for probability, positive in scored if probability >= 0.5]
        positives = sum(positive for _, positive in scored)
        precision = sum(predicted) / len(predicted) if predicted else 1.0
        recall = sum(predicted) / positives
        expect(curves.get_by_role("img", name=re.compile(f"^{tag.name}: precision-recall curve"))).to_have_attribute(
            "aria-label", f"{tag.name}: precision-recall curve; at 50% precision {precision * 100:.1f}%, "
                          f"recall {recall * 100:.1f}%")
    page.get_by_label("Probability Threshold").fill("90")
    expect(curves.get_by_role("img").first).to_have_attribute("aria-label", re.compile("at 90% precision"))
    curves.scroll_into_view_if_needed()
    portal.screenshot("performance-curves")


def test_predictions_page_says_clearly_when_the_service_keeps_no_list(portal, trained):
    project, _ = trained
    portal.page.route(re.compile(r".*/predictions/query$"), unknown_route)
    page = portal.sign_in().open_project(project.name).page
    page.get_by_role("link", name="Predictions").click()
    expect(page.get_by_role("status").filter(has_text="query_predictions")).to_contain_text(
        "does not keep a browsable list of predictions yet")


def test_predictions_page(portal, trained, training_client, make_photo):
    project, iteration = trained
    kept = training_client.quick_test_image(project.id, make_photo("red", 800, (160, 120)), iteration_id=iteration.id)
    dropped = training_client.quick_test_image(project.id, make_photo("blue", 801, (160, 120)),
                                               iteration_id=iteration.id)
    before = training_client.get_image_count(project.id)
    page = portal.sign_in().open_project(project.name).page
    page.get_by_role("link", name="Predictions").click()
    grid = page.get_by_role("list", name="Stored predictions")
    expect(grid.locator("li.prediction")).to_have_count(2)
    newest = grid.locator("li.prediction").first
    expect(newest.locator(".top-predictions li").first).to_contain_text("blue")
    newest.get_by_role("button", name="Delete prediction").click()
    expect(grid.locator("li.prediction")).to_have_count(1)
    oldest = grid.locator("li.prediction").first
    expect(oldest.locator(".top-predictions li").first).to_contain_text("red")
    oldest.get_by_role("combobox", name="Tag").select_option(label="red")
    oldest.get_by_role("button", name="Add to training images").click()
    expect(page.get_by_role("status").filter(has_text="Added to the training images.")).to_be_visible()
    assert training_client.get_image_count(project.id) == before + 1
    from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken

    left = training_client.query_predictions(project.id, PredictionQueryToken(max_count=10)).results
    assert {p.id for p in left}.isdisjoint({kept.id, dropped.id})


def test_predictions_are_filtered_by_tag_probability_and_sorted_least_certain_first(portal, setup, training_client,
                                                                                     make_photo):
    from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken

    project, _ = setup.project("Filters", {c: [make_photo(c, 820 + i, (160, 120)) for i in range(6)]
                                           for c in ("red", "blue")})
    iteration = setup.train(project.id)
    training_client.create_tag(project.id, XSS)
    for n, colour in enumerate(("red", "blue", "green", "red", "yellow")):
        training_client.quick_test_image(project.id, make_photo(colour, 850 + n, (160, 120)), iteration_id=iteration.id)
    stored = training_client.query_predictions(project.id, PredictionQueryToken(max_count=10)).results
    red_id = next(t.id for t in training_client.get_tags(project.id) if t.name == "red")
    surely_red = [p for p in stored if next(x.probability for x in p.predictions if x.tag_id == red_id) >= 0.7]
    assert 0 < len(surely_red) < len(stored)
    least_certain = min(stored, key=lambda p: p.predictions[0].probability)

    page = portal.sign_in().open_project(project.name).page
    page.get_by_role("link", name="Predictions").click()
    grid = page.get_by_role("list", name="Stored predictions")
    expect(grid.locator("li.prediction")).to_have_count(5)
    filters = page.get_by_role("search", name="Filter predictions")
    filters.get_by_label("Sort").select_option(label="Least certain first")
    expect(grid.locator("li.prediction").first.locator(".top-predictions li").first).to_have_text(
        f"{least_certain.predictions[0].tag_name} {least_certain.predictions[0].probability * 100:.1f}%")
    filters.get_by_label("At least (%)").fill("70")
    filters.get_by_label("Filter by tag").select_option(label="red")
    expect(grid.locator("li.prediction")).to_have_count(len(surely_red))
    expect(page.get_by_role("status").filter(has_text="stored prediction")).to_have_text(
        f"{len(surely_red)} stored prediction{'' if len(surely_red) == 1 else 's'} shown.")
    expect(filters.get_by_label("Filter by tag").locator("option", has_text=XSS)).to_have_count(1)  # as text
    filters.get_by_label("Filter by tag").select_option(label="Any tag")
    filters.get_by_label("Iteration").select_option(label=iteration.name)
    expect(grid.locator("li.prediction")).to_have_count(5)
    portal.screenshot("predictions")
    assert portal.dialogs == []


def test_thumbnails_are_cached_by_the_browser(portal, trained, training_client):
    project, _ = trained
    thumbnail = training_client.get_tagged_images(project.id, take=1)[0].thumbnail_uri
    cache_control = httpx.get(thumbnail).headers.get("cache-control", "")
    assert re.search(r"max-age=[1-9]", cache_control)
    page = portal.sign_in().open_project(project.name).page
    portal.settle()
    shown = page.url
    page.goto("about:blank")  # then a new document: Chromium's in-memory image cache is gone, its HTTP cache is not
    page.goto(shown)
    expect(page.get_by_role("heading", name=project.name, level=1)).to_be_visible()
    portal.settle()
    sizes = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/thumbnail')).map((e) => e.transferSize)""")
    assert 0 in sizes  # the second showing came from the browser's cache
