"""How the service serves the portal: at /portal/, for browsers at /, with revalidation and a strict CSP."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

STATIC = Path(__file__).resolve().parents[2] / "cvlocal" / "portal" / "static"
pytestmark = pytest.mark.browser


def test_browsers_asking_for_the_root_are_sent_to_the_portal(portal_service):
    answer = httpx.get(portal_service.endpoint + "/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/"
    api = httpx.get(portal_service.endpoint + "/", headers={"Accept": "application/json"})
    assert api.status_code == 200 and api.json()["training"] == "/customvision/v3.4-preview/training"


def test_portal_files_need_no_key_and_revalidate(portal_service):
    page = httpx.get(portal_service.endpoint + "/portal/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Custom Vision portal" in page.text
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    script = httpx.get(portal_service.endpoint + "/portal/js/api.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    again = httpx.get(portal_service.endpoint + "/portal/js/api.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304


def test_an_unknown_portal_file_is_a_json_404(portal_service):
    answer = httpx.get(portal_service.endpoint + "/portal/nothing-here.js")
    assert answer.status_code == 404 and answer.json()["code"] == "NotFound"


def test_the_api_still_needs_its_key(portal_service):
    answer = httpx.get(portal_service.endpoint + "/customvision/v3.4-preview/training/projects")
    assert answer.status_code == 401


def test_the_page_preloads_every_module_so_none_waits_for_its_importer(portal_service):
    page = httpx.get(portal_service.endpoint + "/portal/").text
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', page))
    modules = {p.relative_to(STATIC).as_posix() for p in (STATIC / "js").rglob("*.js")} - {"js/main.js"}
    assert preloaded == modules
    for module in preloaded:
        assert httpx.get(f"{portal_service.endpoint}/portal/{module}").status_code == 200
