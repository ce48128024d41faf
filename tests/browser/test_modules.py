"""The portal's pure modules, run in Chromium as the pages load them: the precision-recall curve from held-out
results, upload batching, and how the API client sends arrays and reads errors."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def run_module(portal, path: str, body: str, arg=None):
    portal.open()
    return portal.page.evaluate(f"async (arg) => {{ const m = await import('/portal/js/{path}'); {body} }}", arg)


def test_precision_recall_points_from_held_out_images(portal):
    images = [  # tag "a": probabilities 0.9 (a), 0.8 (b), 0.8 (a), 0.3 (a), 0.1 (b)
        {"tags": [{"tagId": "a"}], "predictions": [{"tagId": "a", "probability": 0.9}]},
        {"tags": [{"tagId": "b"}], "predictions": [{"tagId": "a", "probability": 0.8}]},
        {"tags": [{"tagId": "a"}], "predictions": [{"tagId": "a", "probability": 0.8}]},
        {"tags": [{"tagId": "a"}], "predictions": [{"tagId": "a", "probability": 0.3}]},
        {"tags": [{"tagId": "b"}], "predictions": [{"tagId": "a", "probability": 0.1}]},
    ]
    points, at_half, at_zero, none = run_module(portal, "prcurve.js", """
        const points = m.curvePoints(arg, "a");
        return [points, m.pointAt(points, 0.5), m.pointAt(points, 0), m.curvePoints(arg, "c")];""", images)
    # tied scores (0.8, 0.8) are one threshold
    assert [(p["threshold"], round(p["precision"], 4), round(p["recall"], 4)) for p in points] == [
        (0.9, 1.0, 0.3333), (0.8, 0.6667, 0.6667), (0.3, 0.75, 1.0), (0.1, 0.6, 1.0)]
    assert (round(at_half["precision"], 4), round(at_half["recall"], 4)) == (0.6667, 0.6667)
    assert (at_zero["precision"], at_zero["recall"]) == (0.6, 1.0)
    assert none is None  # no held-out image of the tag: no curve


def test_the_curve_is_an_image_named_by_its_numbers(portal):
    label = run_module(portal, "prcurve.js", """
        const points = [{threshold: 0.9, precision: 1, recall: 0.5}, {threshold: 0.2, precision: 0.5, recall: 1}];
        const {svg, move} = m.curveSvg("<b>apple</b>", points, 0.5);
        const before = svg.getAttribute("aria-label");
        move(0.1);
        return [svg.getAttribute("role"), before, svg.getAttribute("aria-label"), svg.querySelectorAll("b").length];""")
    assert label == ["img", "<b>apple</b>: precision-recall curve; at 50% precision 100.0%, recall 50.0%",
                     "<b>apple</b>: precision-recall curve; at 10% precision 50.0%, recall 100.0%", 0]


def test_uploads_go_in_batches_of_at_most_64_files_and_24_mb(portal):
    sizes = run_module(portal, "pages/upload.js", """
        const files = (n, size) => Array.from({length: n}, () => ({size}));
        return [m.batches(files(130, 1000)).map((b) => b.length),
                m.batches(files(5, 10 * 1024 * 1024)).map((b) => b.length),
                m.batches(files(1, 50 * 1024 * 1024)).map((b) => b.length)];""")
    assert sizes == [[64, 64, 2], [2, 2, 1], [1]]


def test_the_client_sends_arrays_comma_joined_and_reads_the_service_errors(portal, setup):
    project, _ = setup.project("Client")
    portal.sign_in()
    urls = []
    portal.page.on("request", lambda r: urls.append(r.url) if "/images/tagged" in r.url else None)
    error = portal.page.evaluate("""async (pid) => {
        const api = await import('/portal/js/api.js');
        await api.getTaggedImages(pid, {tagIds: ["t1", "t2"], take: 10, skip: 0});
        try { await api.getIteration(pid, "00000000-0000-0000-0000-000000000000"); }
        catch (e) { return [e.name, e.status, e.code, e.message, e.routeMissing]; }
      }""", project.id)
    assert urls and "tagIds=t1%2Ct2&take=10&skip=0" in urls[0]
    assert error[:3] == ["Error", 404, "NotFoundIteration"] and error[4] is False
    assert "was not found" in error[3]
