"""The demo Django site through its admin login flow, static assets from the master."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from serverkit import DEMO


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


@pytest.fixture
def site(lanner, demo_site):
    return lanner(["-w", "2", "--static", f"/static/={demo_site['static']}", "demo.wsgi"], cwd=DEMO, env=demo_site["env"])


def test_admin_login_flow(site):
    admin_login_flow(site)


def admin_login_flow(site):
    """/admin/ -> 302 -> the login page and every CSS/JS asset it names (200, from the master)
    -> POST with the CSRF token -> 302 -> /admin/ 200."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

    def get(path):
        try:
            return opener.open(site.url(path), timeout=30)
        except urllib.error.HTTPError as e:
            return e

    # /admin/ -> 302 to the login page
    resp = get("/admin/")
    assert resp.status == 302
    assert resp.headers["Location"] == "/admin/login/?next=/admin/"

    # The login page and every CSS/JS asset it names
    resp = get("/admin/login/?next=/admin/")
    assert resp.status == 200
    page = resp.read().decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)
    assert any(a.endswith("base.css") for a in assets), assets
    for asset in assets:
        r = get(asset)
        assert r.status == 200, asset
        assert r.headers["Content-Type"].startswith("text/css" if asset.endswith(".css") else "text/javascript"), asset
        # Served by the master, not by Django: its validators are there and Django's middleware headers are not.
        assert r.headers["ETag"] and r.headers["Last-Modified"] and r.headers["Cache-Control"], asset
        assert "X-Frame-Options" not in r.headers, asset
        assert len(r.read()) == int(r.headers["Content-Length"])

    # POST the credentials with the CSRF token -> 302 -> /admin/ 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({
        "csrfmiddlewaretoken": token, "username": "admin", "password": "lanner-demo", "next": "/admin/",
    }).encode()
    req = urllib.request.Request(site.url("/admin/login/?next=/admin/"), data=form,
                                 headers={"Referer": site.url("/admin/login/")})
    try:
        resp = opener.open(req, timeout=30)
    except urllib.error.HTTPError as e:
        resp = e
    assert resp.status == 302, resp.read()[:500]
    assert resp.headers["Location"] == "/admin/"

    resp = get("/admin/")
    assert resp.status == 200
    assert "Site administration" in resp.read().decode()


def test_views(site):
    for path, expected in (("/plain", b"Hello, World!"), ("/template", b"Item 49"), ("/json", b'"id": 19')):
        resp, body = site.request("GET", path)
        assert resp.status == 200 and expected in body, path


def test_streaming_response(site):
    resp, body = site.request("GET", "/stream")
    assert resp.status == 200
    assert body == b"".join(f"tick {i}\n".encode() for i in range(5))
