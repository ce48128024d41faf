"""Browser tests: the portal in Debian's Chromium, driven by Playwright, against a real `cvlocal serve`.

Playwright never downloads a browser here: it drives the installed `chromium` (apt-get install chromium; .ci/run
installs it). Without it the tests skip with the reason, except under CI=true, where that is a failure.
Screenshots go to a temporary folder; CVOPS_PORTAL_SCREENSHOTS=docs/img writes the ones docs/portal.md shows.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The one place the browser tests take the test harness from (Chromium, the service, images, a file server).
from harness.browser import CHROMIUM_ARGS, chromium_path
from harness.files import serve_files
from harness.images import photo
from harness.service import RunningService

from .portal import WIDE, Portal
from .sdk_setup import Setup, training_client_for


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run there)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium():
    """Chromium for one test module. Not longer: between its calls Playwright's sync API leaves its own event
    loop marked as running in this thread, which breaks later asyncio users (Pulumi's mocks in tests/infra)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: make install (it is in the dev extras)")
    path = chromium_path()
    if path is None:
        _missing("Chromium is not installed: apt-get install chromium (as root; .ci/run does it)"
                 f"{' or fix CVOPS_CHROMIUM' if os.environ.get('CVOPS_CHROMIUM') else ''}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def portal_service(tmp_path_factory) -> RunningService:
    """One service for the browser tests (each test names its own projects)."""
    with RunningService(tmp_path_factory.mktemp("portal") / "data", extra_args=["--allow-private-urls"]) as service:
        yield service


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    chosen = os.environ.get("CVOPS_PORTAL_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def portal(chromium, portal_service, screenshot_dir):
    """A fresh browser context (its own sessionStorage) at 1280x800; fails the test on any uncaught script error."""
    context = chromium.new_context(viewport=WIDE)
    tab = Portal(context, portal_service, screenshot_dir)
    yield tab
    context.close()
    assert not tab.page_errors, f"script errors in the portal: {tab.page_errors}"


@pytest.fixture(scope="session")
def training_client(portal_service):
    """The official SDK, for setting up what a test does not itself walk through in the browser."""
    return training_client_for(portal_service)


@pytest.fixture(scope="session")
def prediction_client(portal_service):
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    from msrest.authentication import ApiKeyCredentials

    return CustomVisionPredictionClient(portal_service.endpoint,
                                        ApiKeyCredentials(in_headers={"Prediction-key": portal_service.prediction_key}))


@pytest.fixture(scope="session")
def make_photo():
    """photo(colour, seed, size=(96, 72), fmt="JPEG") -> bytes: a small picture, different for every seed."""
    return photo


@pytest.fixture(scope="session")
def file_server():
    """A loopback HTTP server of fixed files (`.files[path] = bytes`, `.url(path)`), for the URL routes."""
    with serve_files() as served:
        yield served


@pytest.fixture(scope="session")
def setup(training_client) -> Setup:
    return Setup(training_client)


@pytest.fixture(scope="module")
def slow_training_service(tmp_path_factory):
    """A service whose training takes 3 s more (fault injection), so the live status can be seen."""
    with RunningService(tmp_path_factory.mktemp("slow") / "data", extra_args=["--faults", "train-delay=3"]) as service:
        yield service


@pytest.fixture
def open_portal(chromium, screenshot_dir):
    """open_portal(service) -> a Portal tab on another service than the shared one."""
    tabs = []

    def open_on(service: RunningService) -> Portal:
        tabs.append(Portal(chromium.new_context(viewport=WIDE), service, screenshot_dir))
        return tabs[-1]

    yield open_on
    for tab in tabs:
        tab.context.close()
    assert not [e for tab in tabs for e in tab.page_errors]
