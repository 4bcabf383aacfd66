"""Live session details: chat kept over a reload, the follow box gives the keys back,
an invited reader is told on the worklist at once, a reader gone idle is shown so."""

from __future__ import annotations

import pytest

from reading.reading_sessions import services
from reading.studies.models import Study
from tests.browser.conftest import ARTIFACTS
from tests.browser.offloop import in_thread
from tests.browser.test_session_ui import LIVE, _wait_viewer
from tests.browser.viewer_helpers import (
    make_study,
)

pytestmark = pytest.mark.browser


def _session(attending, study_uid, title="Tumour board: RUL nodule, 3 month follow-up"):
    study = Study.objects.get(study_instance_uid=study_uid)
    return in_thread(services.create_session, study=study, host=attending, title=title)


def test_chat_survives_a_reload_and_follow_gives_the_keys_back(login_page, attending, resident):
    study_uid, _, _ = make_study(n=6, size=64)
    session = _session(attending, study_uid)
    in_thread(services.invite_users, session, by=attending, usernames=[resident.username])
    page = login_page(resident, f"/viewer/{study_uid}/?session={session.pk}", bypass_csp=True)
    _wait_viewer(page)
    page.wait_for_function(LIVE)
    page.fill(".rr-session-chat-form input", "Compare with the prior, please")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('.rr-session-chat li').length === 1")
    page.reload()
    _wait_viewer(page)
    page.wait_for_function(LIVE)
    page.wait_for_timeout(500)
    items = page.locator(".rr-session-chat li").all_inner_texts()
    assert items == ["Res: Compare with the prior, please"]
    # Unticking "Follow the presenter" leaves the focus on the page, not on the box.
    page.click('[data-action="follow"]')
    assert page.evaluate("document.activeElement.dataset.action") != "follow"
    assert not page.is_checked('[data-action="follow"]')
    assert page.errors == []


def test_invited_reader_sees_the_invitation_on_the_worklist_at_once(
    login_page, attending, resident
):
    study_uid, _, _ = make_study(n=2, size=64)
    page = login_page(resident, "/", bypass_csp=True)
    page.wait_for_function("document.getElementById('wl-live').classList.contains('on')")
    session = _session(attending, study_uid)
    # The host invites from their browser: the server sends the notice (a service called
    # in this test process would reach only this process's channel layer).
    host = login_page(attending, "/", bypass_csp=True)
    status = host.evaluate(
        """([id, name]) => fetch(`/api/sessions/${id}/invite/`, {method: 'POST',
             headers: {'Content-Type': 'application/json', 'X-CSRFToken':
               document.cookie.match(/csrftoken=([^;]+)/)[1]},
             body: JSON.stringify({usernames: [name]})}).then((r) => r.status)""",
        [str(session.pk), resident.username],
    )
    assert status in (200, 201), status
    notice = page.locator(f'.wl-invite[data-session-id="{session.pk}"]')
    notice.wait_for(timeout=5000)
    assert "Tumour board: RUL nodule, 3 month follow-up" in notice.inner_text()
    assert (
        notice.locator("a.wl-invite-join").get_attribute("href").endswith(f"?session={session.pk}")
    )
    # The full session name in the sidebar, not cut short.
    link = page.locator(f'#wl-sessions li[data-session-id="{session.pk}"] a')
    link.wait_for()
    assert "3 month follow-up" in link.inner_text()
    box = link.bounding_box()
    assert link.evaluate("(a) => a.scrollWidth <= a.clientWidth + 1"), box
    assert page.errors == []


def test_idle_reader_is_shown_idle_to_the_host_until_they_move(
    login_page, live_url, attending, resident
):
    study_uid, _, _ = make_study(n=4, size=64)
    session = _session(attending, study_uid)
    in_thread(services.invite_users, session, by=attending, usernames=[resident.username])
    viewer = f"/viewer/{study_uid}/?session={session.pk}"
    host = login_page(attending, viewer, bypass_csp=True)
    # The guest's page runs on Playwright's clock, so that five minutes without input
    # (IDLE_MS in presence.js) pass at once; it is installed before the viewer loads, so
    # the viewer's timers and Date are the clock's.
    guest = login_page(resident, f"/api/sessions/{session.pk}/", bypass_csp=True)
    guest.context.clock.install()
    guest.goto(live_url + viewer)
    _wait_viewer(host)
    _wait_viewer(guest)
    guest.wait_for_function(LIVE)
    them = f".rr-session-people li[data-username='{resident.username}']"
    host.locator(f"{them}[data-state=active]").wait_for()
    assert host.locator(f"{them} .rr-presence").count() == 0

    # No pointer, key or wheel on the guest's page for five and a half minutes: idle.
    guest.clock.fast_forward("05:30")
    host.locator(f"{them}[data-state=idle]").wait_for(timeout=10000)
    assert host.locator(f"{them} .rr-presence").inner_text() == "idle"
    host.locator(".rr-session").screenshot(path=str(ARTIFACTS / "session-presence-host-idle.png"))

    # The guest moves the mouse over the viewer: the host sees them active again.
    box = guest.locator(".vw-cell").first.bounding_box()
    guest.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=3)
    host.locator(f"{them}[data-state=active]").wait_for(timeout=10000)
    assert host.locator(f"{them} .rr-presence").count() == 0
    assert host.errors == [] and guest.errors == []
