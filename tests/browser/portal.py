"""What the browser tests share: window sizes, Playwright's `expect`, and a Portal tab that records what the page
did (dialogs, script errors, request URLs) and takes small screenshots."""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

try:
    from playwright.sync_api import expect
except ImportError:  # the `chromium` fixture skips (or fails under CI) with the reason
    expect = None

if TYPE_CHECKING:
    from harness.service import RunningService

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}
SCREENSHOT_LIMIT = 100 * 1024


class Portal:
    """One browser tab on the portal, with what the page did recorded: dialogs, script errors, request URLs."""

    def __init__(self, context, service: RunningService, shots: Path):
        self.context = context
        self.service = service
        self.shots = shots
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []
        self.request_urls: list[str] = []
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("request", lambda request: self.request_urls.append(request.url))

    def _on_dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @property
    def url(self) -> str:
        return self.service.endpoint + "/portal/"

    def open(self, fragment: str = "") -> "Portal":
        self.page.goto(self.url + fragment)
        return self

    def sign_in(self, key: str | None = None, prediction_key: str | None = None) -> "Portal":
        self.open()
        self.page.get_by_label("Training key").fill(key or self.service.training_key)
        if prediction_key:
            self.page.get_by_label("Prediction key (optional)").fill(prediction_key)
        self.page.get_by_role("button", name="Sign in").click()
        if key is None:
            expect(self.page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
        return self

    def open_project(self, name: str) -> "Portal":
        self.page.goto(self.url + "#/")
        self.page.get_by_role("link", name=name, exact=True).click()
        expect(self.page.get_by_role("heading", name=name, level=1)).to_be_visible()
        return self

    def open_performance(self, project_name: str, iteration_name: str) -> "Portal":
        self.open_project(project_name)
        self.page.get_by_role("link", name="Performance").click()
        expect(self.page.get_by_role("heading", name=iteration_name, level=2)).to_be_visible()
        return self

    def settle(self) -> None:
        """Wait until nothing is loading (no aria-busy) and the thumbnails in view have arrived. A hash route is
        not a navigation, so Playwright's load states say nothing about it."""
        self.page.wait_for_function("""() => !document.querySelector('[aria-busy="true"]') &&
            [...document.querySelectorAll('main img')].filter((i) => i.getBoundingClientRect().top < innerHeight)
              .every((i) => i.complete)""")

    def screenshot(self, name: str) -> Path:
        """A small PNG of the viewport: palette-quantised, and scaled down only when photos keep it over 100 KB."""
        from PIL import Image

        self.settle()
        raw = Image.open(io.BytesIO(self.page.screenshot())).convert("RGB")
        path = self.shots / f"portal-{name}.png"
        for scale in (1.0, 0.8, 0.64, 0.5):
            scaled = raw if scale == 1.0 else raw.resize((round(raw.width * scale), round(raw.height * scale)),
                                                         Image.Resampling.LANCZOS)
            out = io.BytesIO()
            scaled.quantize(colors=128).save(out, "PNG", optimize=True)
            if out.tell() <= SCREENSHOT_LIMIT:
                break
        path.write_bytes(out.getvalue())
        return path
