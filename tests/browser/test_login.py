import re

import pytest

from tests.browser.conftest import _server_env, session_cookie_for, start_server, stop_server
from tests.browser.test_reports import _until
from tests.browser.viewer_helpers import (
    make_study,
)

pytestmark = pytest.mark.browser

# Long enough for the viewer to start on a busy machine before the session is idle.
IDLE_S = 25


def test_login_form_then_logout(browser, live_url, transactional_db, attending, shot):
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_url + "/")
    assert "/accounts/login/" in page.url  # every page requires login
    page.fill("#id_username", "att")
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    page.fill("#id_username", "att")
    page.fill("#id_password", "pw-att")
    page.click("button[type=submit]")
    page.wait_for_url(live_url + "/")
    assert page.locator(".who").inner_text().startswith("Att")
    shot(page, "login-home")
    page.click("text=Log out")
    # The logout also closes the page's sockets, whose handler may send the page to the
    # login form first (with ?next=): either way it ends there, signed out.
    page.wait_for_url(re.compile(r".*/accounts/login/(\?.*)?$"))
    page.goto(live_url + "/")
    assert "/accounts/login/" in page.url
    context.close()


def test_outsider_sees_no_patient_data(login_page, outsider, shot):
    page = login_page(outsider)
    assert "does not open patient images" in page.content()
    shot(page, "outsider-home")


def test_idle_socket_close_takes_the_viewer_to_the_login_page(
    browser, transactional_db, attending, shot
):
    """The server ends the idle session on the page's sockets (4408): the viewer goes to
    the login page, which says why. The page's own countdown (idle.js) is kept out, and
    once the viewer runs no HTTP request reaches the server (one would sign the session
    out there, 4401): only the sockets can take the page away."""
    study_uid, _, _ = make_study(n=2, size=64, desc="CT IDLE")
    proc, url = start_server({**_server_env(), "SESSION_IDLE_TIMEOUT": str(IDLE_S)})
    context = browser.new_context()
    try:
        context.add_cookies([session_cookie_for(attending, url)])
        context.route("**/static/js/idle.js", lambda route: route.abort())
        page = context.new_page()
        page.goto(f"{url}/viewer/{study_uid}/")
        # The AI socket is open (the dictation socket opens at start too).
        _until(page, "() => Boolean(window.readingViewer?.ai?.data.live)", timeout=60)
        assert "/viewer/" in page.url
        context.route(
            lambda u: "/accounts/login/" not in u and "/static/" not in u,
            lambda route: route.abort(),
        )
        page.wait_for_url(
            re.compile(r".*/accounts/login/\?next=%2Fviewer%2F.*&idle=1$"),
            timeout=(IDLE_S + 30) * 1000,
        )
        notice = page.locator(".login [data-reason='idle']")
        assert notice.is_visible()
        assert "without activity" in notice.inner_text()
        shot(page, "login-after-idle-socket-close")
    finally:
        context.close()
        stop_server(proc)
