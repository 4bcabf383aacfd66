"""Starting, inviting to and joining live reading sessions from the viewer and the worklist."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from reading.reading_sessions import services
from reading.reading_sessions.models import ReadingSession, SessionInvite, SessionStatus
from reading.studies.models import Study
from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    make_study,
    wait_for_image,
)

pytestmark = pytest.mark.browser

LIVE = "window.readingSession && window.readingSession.state().connection === 'live'"


def _query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _wait_viewer(page):
    page.wait_for_function(
        "window.readingViewer && window.readingViewer.state().ready", timeout=30000
    )
    wait_for_image(page)


def _present(page, *usernames):
    page.wait_for_function(
        """(names) => window.readingSession && names.every((n) => window.readingSession.state()
             .participants.some((p) => p.username === n && p.state === 'active'))""",
        arg=list(usernames),
    )


# The patient-space point at the canvas centre and canvas pixels per millimetre,
# straight from Cornerstone's viewport (the same study gives both screens one space).
FRAMING = """(() => {
  const v = window.readingViewer;
  const vp = v.renderingEngine.getViewport(v.activeViewportId);
  const c = vp.getCanvas();
  const mid = vp.canvasToWorld([c.clientWidth / 2, c.clientHeight / 2]);
  const a = vp.worldToCanvas(mid);
  const b = vp.worldToCanvas([mid[0] + 1, mid[1], mid[2]]);
  return [mid, Math.hypot(b[0] - a[0], b[1] - a[1])];
})()"""


def test_start_invite_and_join_from_the_worklist(login_page, attending, resident, shot):
    study_uid, _, _ = make_study(n=8, size=96)

    # The attending opens the study and starts a session from the toolbar's Session menu.
    host = login_page(attending, f"/viewer/{study_uid}/?layout=1x1", bypass_csp=True)
    _wait_viewer(host)
    host.keyboard.press("j")  # the shortcut opens the menu
    menu = host.locator(".rr-session-menu")
    menu.locator("[data-action=start-session]").wait_for()
    assert menu.locator("[data-note=none]").is_visible()
    shot(host, "session-ui-menu")
    menu.locator("[data-action=start-session]").click()
    host.wait_for_url("**session=*")
    assert _query(host).get("layout") == "1x1"  # the other parameters stay
    _wait_viewer(host)
    host.wait_for_function(LIVE)
    session = ReadingSession.objects.get(study__study_instance_uid=study_uid)
    assert _query(host)["session"] == str(session.pk)
    assert session.host == attending and session.status == SessionStatus.ACTIVE

    # It invites the resident, picked from the readers.
    panel = host.locator(".rr-session")
    panel.locator("[data-field=invitee]").select_option(resident.username)
    panel.locator("[data-action=invite]").click()
    host.wait_for_function("document.querySelector('.vw-status').textContent.startsWith('Invited')")
    assert SessionInvite.objects.filter(session=session, user=resident).exists()
    assert panel.locator("[data-action=end-session]").is_visible()

    # The resident's worklist shows the session: a badge on the row, an entry in the sidebar.
    guest = login_page(resident, "/", bypass_csp=True)
    row = guest.locator(f"#worklist tr[data-uid='{study_uid}']")
    row.locator(".wl-live-badge").wait_for()
    entry = guest.locator(f"#wl-sessions li[data-session-id='{session.pk}']")
    entry.wait_for()
    assert entry.locator(".wl-invited").text_content() == "invited"
    shot(guest, "session-ui-worklist")

    # Joining from the sidebar lands in the same session; both see each other.
    entry.locator("a").click()
    guest.wait_for_url(f"**/viewer/{study_uid}/?session={session.pk}")
    _wait_viewer(guest)
    guest.wait_for_function(LIVE)
    _present(guest, attending.username, resident.username)
    _present(host, attending.username, resident.username)
    assert guest.locator("[data-action=end-session]").is_hidden()  # only the host ends it
    shot(host, "session-ui-host")
    shot(guest, "session-ui-guest")
    # The late joiner frames the image as the presenter does: same point at the centre,
    # same magnification.
    host_center, host_scale = host.evaluate(FRAMING)
    guest_center, guest_scale = guest.evaluate(FRAMING)
    assert abs(guest_scale - host_scale) < 0.02 * host_scale
    assert max(abs(g - h) for g, h in zip(guest_center, host_center, strict=True)) < 0.5  # mm

    # The host ends it: the guest's panel says so, and the worklist badge goes away.
    host.locator("[data-action=end-session]").click()
    guest.wait_for_function("window.readingSession.state().connection === 'ended'")
    session.refresh_from_db()
    assert session.status == SessionStatus.ENDED
    worklist = login_page(resident, "/", bypass_csp=True)
    worklist.locator(f"#worklist tr[data-uid='{study_uid}']").wait_for()
    worklist.locator("#wl-sessions li.muted").wait_for()
    assert worklist.locator(".wl-live-badge").count() == 0
    assert host.errors == [] and guest.errors == [] and worklist.errors == []


def test_join_param_finds_the_session_or_says_there_is_none(login_page, attending, resident, shot):
    study_uid, _, _ = make_study(n=4, size=64)

    # No session yet: the viewer says so plainly and opens read-only.
    page = login_page(resident, f"/viewer/{study_uid}/?join=1", bypass_csp=True)
    _wait_viewer(page)
    note = page.locator(".rr-session-menu [data-note=none]")
    note.wait_for()
    assert "No live session on this study yet" in note.text_content()
    assert page.evaluate("window.readingViewer.config.readonly") is True
    assert page.locator(".vw-tool[data-tool=length]").is_hidden()
    assert page.evaluate("typeof window.readingSession") == "undefined"
    shot(page, "session-ui-join-none")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    assert "Live session: start / join" in page.locator(".vw-help").text_content()
    page.keyboard.press("Escape")

    # Once the attending has one, ?join=1 goes to it.
    study = Study.objects.get(study_instance_uid=study_uid)
    session = in_thread(services.create_session, study=study, host=attending)
    page.goto(page.url)
    page.wait_for_url(f"**/viewer/{study_uid}/?session={session.pk}")
    _wait_viewer(page)
    page.wait_for_function(LIVE)
    _present(page, resident.username)
    assert page.errors == []


def test_invite_link_works_for_readers_and_not_for_outsiders(
    login_page, attending, resident, outsider
):
    study_uid, _, _ = make_study(n=4, size=64)
    study = Study.objects.get(study_instance_uid=study_uid)
    session = in_thread(services.create_session, study=study, host=attending)
    host = login_page(
        attending,
        f"/viewer/{study_uid}/?session={session.pk}",
        permissions=["clipboard-read", "clipboard-write"],
        bypass_csp=True,
    )
    _wait_viewer(host)
    host.wait_for_function(LIVE)
    host.locator("[data-action=copy-link]").click()
    host.wait_for_function(
        "document.querySelector('.vw-status').textContent === 'Invite link copied'"
    )
    link = host.locator("[data-field=invite-link]").input_value()
    assert host.evaluate("navigator.clipboard.readText()") == link
    base = host.url.split("/viewer/")[0]
    assert link == f"{base}/sessions/join/{session.invite_token}/"

    # Another reader follows the link and lands in the session.
    guest = login_page(resident, link.removeprefix(base), bypass_csp=True)
    guest.wait_for_url(f"**/viewer/{study_uid}/?session={session.pk}")
    _wait_viewer(guest)
    guest.wait_for_function(LIVE)
    _present(host, resident.username)

    # An outsider (logged in, no clinical role) gets 403 from the link.
    stranger = login_page(outsider, "/", bypass_csp=True)
    assert stranger.request.get(link).status == 403
    assert host.errors == [] and guest.errors == []
