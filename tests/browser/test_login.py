import re

import pytest

pytestmark = pytest.mark.browser


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
