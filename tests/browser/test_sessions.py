"""A live reading session in two browsers: shared annotations, follow the presenter,
and a follower that drops off and comes back without missing anything."""

from __future__ import annotations

import pytest

from reading.annotations.models import Annotation
from reading.reading_sessions import services
from reading.reading_sessions.models import SessionEvent
from reading.studies.models import Study
from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    make_study,
    viewport_box,
    vp_state,
    wait_for_image,
)

pytestmark = pytest.mark.browser


def _open(login_page, user, study_uid, session_id):
    page = login_page(user, f"/viewer/{study_uid}/?session={session_id}", bypass_csp=True)
    page.wait_for_function(
        "window.readingViewer && window.readingViewer.state().ready", timeout=30000
    )
    wait_for_image(page)
    page.wait_for_function(
        "window.readingSession && window.readingSession.state().connection === 'live'"
    )
    return page


def _draw_length(page, y_fraction=0.5):
    page.keyboard.press("l")
    box = viewport_box(page)
    y = box["y"] + box["height"] * y_fraction
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()


def _records(page):
    return page.evaluate("window.readingViewer.state().annotations.records")


def test_two_readers_share_annotations_follow_and_resume(login_page, attending, resident, shot):
    study_uid, _, datasets = make_study(n=24, size=128)
    study = Study.objects.get(study_instance_uid=study_uid)
    session = in_thread(services.create_session, study=study, host=attending, title="Board")

    host = _open(login_page, attending, study_uid, session.pk)
    guest = _open(login_page, resident, study_uid, session.pk)
    host.wait_for_function(
        "window.readingSession.state().participants.filter(p => p.state === 'active').length === 2"
    )
    assert host.evaluate("window.readingSession.state().isPresenter") is True
    assert guest.evaluate("window.readingSession.state().isPresenter") is False
    assert guest.locator(".rr-session-status").text_content() == "Live"

    # The host draws a length; the guest sees it, with its author.
    _draw_length(host)
    host.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    guest.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    shared = _records(guest)[0]
    assert shared["tool"] == "length" and shared["author"]["username"] == attending.username
    assert guest.evaluate("window.readingViewer.state().annotations.shown") == 1
    # Who drew it is on the guest's image, under the value; the host's own has no label.
    assert guest.evaluate("window.readingViewer.state().annotations.authors") == [str(attending)]
    assert host.evaluate("window.readingViewer.state().annotations.authors") == [""]
    guest.wait_for_function(
        "(name) => [...document.querySelectorAll('.vw-element svg text')]"
        ".some((t) => t.textContent.includes(name))",
        arg=str(attending),
    )

    # The host scrolls as presenter; the guest follows to the same slice.
    host.keyboard.press("Escape")
    for _ in range(6):
        host.keyboard.press("ArrowDown")
    host.wait_for_function("window.readingViewer.state().viewports[0].slice !== null")
    host.wait_for_timeout(400)
    target = vp_state(host)["slice"]
    assert target != 0 or vp_state(guest)["slice"] != 0
    guest.wait_for_function(
        "(s) => window.readingViewer.state().viewports[0].slice === s", arg=target
    )
    shot(host, "session-host")
    shot(guest, "session-guest-following")

    # The guest drops off (lid closed: socket gone, network off); the host adds another.
    guest.context.set_offline(True)
    guest.evaluate("window.readingSession.drop()")
    guest.wait_for_function("window.readingSession.state().connection !== 'live'")
    host.wait_for_function(
        "window.readingSession.state().participants.some(p => p.state === 'offline')"
    )
    _draw_length(host, y_fraction=0.7)
    host.wait_for_function("window.readingViewer.state().annotations.records.length === 2")
    shot(host, "session-host-second")
    for annotation in Annotation.objects.all():
        (ax, ay), (bx, by) = annotation.geometry["points"]
        assert abs(ay - by) < 1 and bx - ax > 20  # horizontal lines, as drawn
    assert len(_records(guest)) == 1
    shot(guest, "session-guest-offline")

    # Back online: it reconnects by itself, resumes after its last seq, and has both.
    guest.context.set_offline(False)
    guest.wait_for_function("window.readingSession.state().connection === 'live'", timeout=20000)
    guest.wait_for_function("window.readingViewer.state().annotations.records.length === 2")
    guest.wait_for_timeout(500)
    assert guest.evaluate("window.readingViewer.state().annotations.shown") == 2
    last_seq = SessionEvent.objects.filter(session=session).order_by("-seq").first().seq
    assert guest.evaluate("window.readingSession.state().lastSeq") == last_seq
    shot(guest, "session-guest-back")

    # Nothing was saved twice: two annotations, each created once.
    assert Annotation.objects.filter(study=study).count() == 2
    created = SessionEvent.objects.filter(session=session, type="annotation.created").count()
    assert created == 2
    assert host.errors == [] and guest.errors == []


def test_outsider_cannot_join_session_in_viewer(login_page, attending, outsider):
    study_uid, _, _ = make_study(n=4, size=64)
    study = Study.objects.get(study_instance_uid=study_uid)
    session = in_thread(services.create_session, study=study, host=attending)
    page = login_page(outsider, f"/viewer/{study_uid}/?session={session.pk}", bypass_csp=True)
    base = page.url.split("/viewer/")[0]
    assert page.request.get(f"{base}/viewer/{study_uid}/?session={session.pk}").status == 403
    assert page.request.get(f"{base}/api/sessions/{session.pk}/").status == 403
    assert page.request.get(f"{base}/sessions/join/{session.invite_token}/").status == 403
    assert page.evaluate("typeof window.readingSession") == "undefined"
