"""A real browser (headless Chromium) logs into the demo site's admin; its CSS comes from the master."""

import collections
import os
from pathlib import Path

import pytest

from browserkit import Browser, available, png_pixels
from serverkit import DEMO

pytestmark = pytest.mark.skipif(not available(), reason="chromium and chromium-driver are installed by scripts/setup")


def test_admin_login_in_a_browser_renders_the_styled_admin_index(lanner, demo_site, tmp_path):
    site = lanner(["-w", "2", "--static", f"/static/={demo_site['static']}", "demo.wsgi"], cwd=DEMO, env=demo_site["env"])
    browser = Browser()
    try:
        browser.go(site.url("/admin/"))
        browser.wait_for_title("Log in")
        browser.type("#id_username", "admin")
        browser.type("#id_password", "lanner-demo")
        browser.click("input[type=submit]")
        browser.wait_for_title("Site administration")
        # The stylesheet the master served was applied: the admin header has its colour.
        header = browser.script("return getComputedStyle(document.getElementById('header')).backgroundColor")
        assert header == "rgb(65, 118, 144)", header
        png = browser.screenshot()
    finally:
        browser.close()
    shot = Path(os.environ.get("LANNER_TEST_ARTIFACTS", tmp_path)) / "admin-index.png"
    shot.write_bytes(png)
    width, height, pixels = png_pixels(png)
    assert (width, height) == (1280, 900) or width >= 800
    colors = collections.Counter(pixels)
    background, count = colors.most_common(1)[0]
    assert len(colors) > 50, "the screenshot is (nearly) blank"
    assert count < 0.95 * len(pixels), "one colour covers the whole screenshot"
    assert colors[(65, 118, 144)] > 1000, "the admin's blue header is not in the screenshot"
