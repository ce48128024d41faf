"""Benchmark 6, portal: how long a 5,000-image project's Training Images grid takes to show, in a real browser.

A fresh service. Two projects: a large one (4,940 small generated images, then 60 photos cropped from the fruit
set's 1024x768 photos, uploaded last so that they are the newest: the first page) and a small one of 60 other such
photos. For each, Chromium (headless, 1280x800, driven by Playwright) opens the project's Training Images page
with the training key already given, and the time is taken from the navigation's start to the moment the grid
holds its first page (60 tiles) and every thumbnail in view has been decoded. Three cases: the first showing
after the service started (the service makes the thumbnails), a new browser (empty cache; the service has the
thumbnails), and the same browser again (the browser's cache has them). Medians of 5 runs, except the first.

Targets: the large project's first page in under 1 s in a new browser, and the large project costing at most
1.5 times the small one in the same case (paging and count calls, not listing everything).
"""
from __future__ import annotations

import argparse
import sys
import time

from bench.common import Check, Section, derived_set, median, running_service
from harness.browser import CHROMIUM_ARGS, chromium_path
from harness.images import photo

PAGE_SIZE = 60                 # the grid's page (cvlocal/portal/static/js/pages/images.js)
TARGET_S = 1.0
SCALE_RATIO = 1.5
RUNS = 5
VIEWPORT = {"width": 1280, "height": 800}
# True once the grid has its page and every thumbnail in view is decoded: then the time since navigation began.
SHOWN = """(count) => {
  const grid = document.querySelector('main ul.grid');
  if (!grid || grid.getAttribute('aria-busy') === 'true' || grid.querySelectorAll('li.tile').length < count) return 0;
  const inView = [...grid.querySelectorAll('img')].filter((i) => i.getBoundingClientRect().top < innerHeight);
  return inView.length && inView.every((i) => i.complete && i.naturalWidth > 0) ? performance.now() : 0;
}"""


def make_project(bench, name: str, generated: int, photos: list[tuple]) -> str:
    """A project of `generated` small images and then `photos` (the newest, so the first page)."""
    pid = bench.project(name)
    small = [(photo(("red", "blue", "green", "yellow")[n % 4], 50_000 + n, (320, 240)), f"tag{n % 4}")
             for n in range(generated)]
    bench.upload(pid, small + [(path, tag) for path, tag in photos])
    return pid


def sign_in(context, bench):
    page = context.new_page()
    page.goto(bench.service.endpoint + "/portal/")
    page.get_by_label("Training key").fill(bench.service.training_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    return page


def shown_seconds(page, url: str, count: int) -> float:
    """Seconds from the start of a navigation to `url` to its first page of thumbnails shown."""
    page.goto("about:blank")  # a new document each time: nothing of the last one stays in memory
    page.goto(url)
    return page.wait_for_function(SHOWN, arg=count, timeout=60_000, polling="raf").json_value() / 1000


def measure(browser, bench, project_id: str, count: int) -> dict[str, float]:
    url = f"{bench.service.endpoint}/portal/#/projects/{project_id}/images"
    first_context = browser.new_context(viewport=VIEWPORT)
    first = shown_seconds(sign_in(first_context, bench), url, count)
    first_context.close()
    fresh, again = [], []
    for _ in range(RUNS):
        context = browser.new_context(viewport=VIEWPORT)
        page = sign_in(context, bench)
        fresh.append(shown_seconds(page, url, count))
        again.append(shown_seconds(page, url, count))
        context.close()
    return {"first": first, "fresh": median(fresh), "again": median(again), "fresh_max": max(fresh)}


def run(quick: bool = False, images: int | None = None) -> Section:
    from playwright.sync_api import sync_playwright

    section = Section("portal", "Portal: a large project's Training Images grid", __doc__.split("\n\n")[1])
    total = images or (500 if quick else 5000)
    executable = chromium_path()
    if executable is None:
        raise SystemExit("bench: Chromium is not installed (apt-get install chromium, or set CVOPS_CHROMIUM)")
    photos = derived_set(2 * PAGE_SIZE, seed=61)
    with running_service("portal", warm=False) as bench:
        t0 = time.perf_counter()
        large = make_project(bench, "bench large", total - PAGE_SIZE, photos[:PAGE_SIZE])
        small = make_project(bench, "bench small", 0, photos[PAGE_SIZE:])
        setup_s = time.perf_counter() - t0
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                figures = {"large": measure(browser, bench, large, PAGE_SIZE),
                           "small": measure(browser, bench, small, PAGE_SIZE)}
            finally:
                browser.close()
    large_f, small_f = figures["large"], figures["small"]
    section.table("Time to the first page of thumbnails (s, from navigation start)",
                  ["project", "images", "first showing (service makes thumbnails)", f"new browser (median of {RUNS})",
                   f"same browser again (median of {RUNS})", "new browser, slowest"],
                  [["large", total, large_f["first"], large_f["fresh"], large_f["again"], large_f["fresh_max"]],
                   ["small", PAGE_SIZE, small_f["first"], small_f["fresh"], small_f["again"], small_f["fresh_max"]]])
    ratio = large_f["fresh"] / small_f["fresh"]
    section.checks += [
        Check(f"{total:,}-image project, first page in a new browser", f"{large_f['fresh']:.2f} s",
              f"< {TARGET_S:.0f} s", large_f["fresh"] < TARGET_S),
        Check(f"{total:,}-image project / {PAGE_SIZE}-image project, new browser", f"{ratio:.2f}",
              f"<= {SCALE_RATIO}", ratio <= SCALE_RATIO),
        Check(f"{total:,}-image project, first showing after start", f"{large_f['first']:.2f} s",
              "reported", None),
    ]
    section.notes.append(f"Making the two projects through the API took {setup_s:.0f} s (not timed above). "
                         f"Chromium: {executable}.")
    return section


if __name__ == "__main__":
    from bench.report import print_section

    parser = argparse.ArgumentParser(prog="python -m bench.portal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 images instead of 5,000")
    parser.add_argument("--images", type=int, help="images in the large project (at least 61)")
    args = parser.parse_args()
    if args.images is not None and args.images <= PAGE_SIZE:
        parser.error(f"--images must be more than {PAGE_SIZE}")
    print_section(run(quick=args.quick, images=args.images))
    sys.exit(0)
