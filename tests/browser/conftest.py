"""The console in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``)
driven by Selenium, against a real API process and an espeak worker on the embedded stack (SQLite,
local disk, the filesystem broker).  One stack and one browser per module: the tests of a module
walk one session, in order.

Without Chromium the tests are skipped, except under CI=true, where they fail (a green CI run must
have driven the browser).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import Proc, create_key, start_api, start_worker

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "data" / "axe.min.js"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# VOXFARM_TEST_SCREENSHOTS=docs writes the README's screenshots; by default they go to a temp dir
SHOTS = os.environ.get("VOXFARM_TEST_SCREENSHOTS")


@dataclass
class Stack:
    url: str
    settings: object
    api: Proc
    worker: Proc
    keys: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from voxfarm.core.migrate import upgrade
    from voxfarm.core.settings import Settings

    tmp = tmp_path_factory.mktemp("console")
    settings = Settings(data_dir=tmp / "var", outbound_allowlist=["127.0.0.1/32", "::1/128"])
    upgrade(settings)
    api, url = start_api(settings, tmp)
    worker = start_worker(settings, tmp, engine="espeak", queues="tts.espeak,tts.espeak.interactive,control,webhooks")
    for proc in (api, worker):  # module-scoped: the per-test process reaper must leave them running
        Proc.running.remove(proc)
    stack = Stack(url, settings, api, worker, {t: create_key(settings, t) for t in ("reader", "stranger")})
    yield stack
    worker.stop()
    api.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        message = "headless Chromium is not installed (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--disable-gpu"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)  # no Selenium Manager: no download
    driver.set_script_timeout(60)
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = ROOT / SHOTS if SHOTS else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Console:
    """The page as a person uses it: sign in, follow links, read what is shown."""

    def __init__(self, driver, url: str) -> None:
        self.driver, self.url = driver, url

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, predicate, timeout: float = 60, what: str = "the page"):
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # noqa: BLE001 - a stale element while the page re-renders
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"timed out waiting for {what} ({last!r}); page: {self.text()[:1500]}")

    def text(self) -> str:
        try:
            return self.find("body").text
        except Exception:  # noqa: BLE001
            return ""

    def wait_css(self, css: str, timeout: float = 60):
        return self.wait(lambda: self.all(css), timeout, what=css)

    def sign_in(self, key: str) -> None:
        self.driver.get(self.url + "/")
        box = self.find("#api-key")
        box.clear()
        box.send_keys(key)
        self.find("#sign-in-form button[type=submit]").click()
        self.wait(lambda: self.find("#nav").is_displayed(), what="the signed-in console")

    def sign_out(self) -> None:
        self.find("#sign-out").click()
        self.wait(lambda: self.find("#sign-in").is_displayed(), what="the sign-in form")

    def go(self, route: str, ready: str = "#page h1") -> None:
        self.driver.execute_script("window.location.hash = arguments[0]", route)
        self.wait_css(ready)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def overflow(self) -> int:
        """Pixels the page is wider than the viewport (0: no horizontal scrolling)."""
        return self.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")

    def axe(self) -> list[dict]:
        """axe-core's serious and critical violations on the current page."""
        if not self.js("return !!window.axe"):
            self.js(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
            "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))));")
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def shot(self, folder: Path, name: str) -> Path:
        path = folder / f"console-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture(scope="module")
def console(browser, stack) -> Console:
    return Console(browser, stack.url)
