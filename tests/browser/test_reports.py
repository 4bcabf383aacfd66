"""The report in two browsers: co-edited live in a reading session, signed by the
resident (preliminary) and the attending (final), the resident's diff, an addendum, the
PDF, the full-page view."""

from __future__ import annotations

import time

import pytest

from reading.reading_sessions import services as session_services
from reading.reports.models import Report, ReportStatus
from reading.studies.models import Study
from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    make_study,
)

pytestmark = pytest.mark.browser

EDITOR = ".rr-report .cm-content"


def _open(login_page, user, study_uid, session_id):
    page = login_page(user, f"/viewer/{study_uid}/?session={session_id}")
    # The features start once the viewer has (slow on a busy machine).
    _until(page, "() => Boolean(window.readingViewer && window.readingViewer.report)", timeout=60)
    page.evaluate("window.readingViewer.dock.show('report')")
    return page


def _start(page):
    # "Start report" appears only once the panel has asked for the study's report and
    # found none: wait for it or for the editor, not just look once.
    page.wait_for_selector(
        ".rr-report [data-action='start'], .rr-report[data-synced='1'] .cm-content"
    )
    start = page.locator(".rr-report [data-action='start']")
    if start.count():
        start.click()
    page.wait_for_selector(".rr-report[data-synced='1'] .cm-content")
    _until(page, "() => document.querySelector('.rr-report .cm-content').innerText.length > 20")


def _until(page, expression, arg=None, timeout=15.0):
    """Poll ``expression`` (a JS function) until truthy. Not ``wait_for_function``: its
    polling evaluates strings, which the Content-Security-Policy forbids."""
    deadline = time.monotonic() + timeout
    while True:
        if page.evaluate(expression, arg):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def _text(page) -> str:
    return page.evaluate("window.readingViewer.report.panel.editor.text")


def _sign(page, action):
    page.click(f".rr-report [data-action='{action}']")
    page.click(".rr-report [data-action='confirm-sign']")
    anyway = page.locator(".rr-report [data-action='sign-anyway']")
    try:
        anyway.wait_for(timeout=3000)
        anyway.click()
    except Exception:  # noqa: BLE001 - no blank fields left: signed at once
        pass


def test_report_coedited_signed_diffed_addended(
    login_page, live_url, attending, resident, outsider, shot
):
    study_uid, _, _ = make_study(n=6, size=64, desc="CT CHEST")
    study = Study.objects.get(study_instance_uid=study_uid)
    session = in_thread(
        session_services.create_session, study=study, host=attending, title="Reporting"
    )
    res = _open(login_page, resident, study_uid, session.pk)
    att = _open(login_page, attending, study_uid, session.pk)
    _start(res)
    # The attending's panel opens the same draft by itself (the session tells it), or
    # by "Start report" (get-or-create).
    att.wait_for_timeout(500)
    _start(att)
    report = Report.objects.get(study=study, parent__isnull=True)
    assert res.get_attribute(".rr-report", "data-report-id") == str(report.pk)
    assert att.get_attribute(".rr-report", "data-report-id") == str(report.pk)
    template = _text(res)
    assert "FINDINGS:" in template and "IMPRESSION:" in template

    # Both type at once: the resident fills the first field (Tab selects it), the
    # attending writes at the end; keystrokes interleave.
    res.click(EDITOR)
    res.keyboard.press("Control+Home")
    res.keyboard.press("Tab")
    att.click(EDITOR)
    att.keyboard.press("Control+End")
    mine, theirs = "Cough for three weeks", " Attending was here."
    for i in range(max(len(mine), len(theirs))):
        if i < len(mine):
            res.keyboard.type(mine[i])
        if i < len(theirs):
            att.keyboard.type(theirs[i])
    for page in (res, att):
        _until(
            page,
            "(t) => window.readingViewer.report.panel.editor.text.includes(t[0])"
            " && window.readingViewer.report.panel.editor.text.includes(t[1])",
            arg=[mine, theirs.strip()],
        )
    assert _text(res) == _text(att)
    # Each sees the other's cursor and name.
    res.wait_for_selector(".rr-report .cm-ySelectionCaret")
    att.wait_for_selector(".rr-report .cm-ySelectionCaret")
    res.wait_for_selector(f".rr-person[data-username='{attending.username}']")
    shot(res, "report-coedit-resident")
    shot(att, "report-coedit-attending")

    # Dictation, a measurement and a section command arrive as viewer events.
    res.evaluate(
        """() => {
          const v = window.readingViewer;
          v.emit('report-command', { op: 'section', name: 'FINDINGS' });
          v.emit('report-insert', { text: 'No pleural effusion.', source: 'dictation', meta: { join: 'space' } });
          v.emit('report-insert', { text: 'Nodule 6.1 mm (series 1, image 3).', source: 'measurement' });
        }"""
    )
    _until(
        res,
        "() => window.readingViewer.report.panel.editor.text.includes('Nodule 6.1 mm (series 1, image 3).')",
    )
    text = _text(res)
    findings = text.index("FINDINGS:")
    assert findings < text.index("No pleural effusion. Nodule 6.1 mm") < text.index("IMPRESSION:")
    _until(
        att,
        "() => window.readingViewer.report.panel.editor.text.includes('No pleural effusion. Nodule')",
    )
    res.evaluate("window.readingViewer.emit('report-command', { op: 'scratch' })")
    _until(
        att, "() => !window.readingViewer.report.panel.editor.text.includes('No pleural effusion.')"
    )
    assert "Nodule 6.1 mm" in _text(att)

    # The resident signs preliminary; the editor turns read-only for the resident.
    _sign(res, "sign-preliminary")
    res.wait_for_selector(".rr-report[data-status='preliminary']")
    att.wait_for_selector(".rr-report[data-status='preliminary']")
    _until(res, "() => window.readingViewer.report.panel.editor.isReadOnly")
    assert not att.evaluate("window.readingViewer.report.panel.editor.isReadOnly")

    # The attending edits the preliminary live and signs final.
    att.click(EDITOR)
    att.keyboard.press("Control+End")
    att.keyboard.type(" Agree; no further imaging needed.")
    _until(
        res,
        "() => window.readingViewer.report.panel.editor.text.includes('no further imaging needed')",
    )
    _sign(att, "sign-final")
    att.wait_for_selector(".rr-report[data-status='final']")
    res.wait_for_selector(".rr-report[data-status='final']")
    assert Report.objects.get(pk=report.pk).status == ReportStatus.FINAL

    # The resident sees what the attending changed.
    res.wait_for_selector(".rr-diff-text ins")
    inserted = " ".join(res.locator(".rr-diff-text ins").all_text_contents())
    assert "no further imaging needed" in inserted
    assert "Cough" not in inserted  # the resident's own words were there at preliminary
    shot(res, "report-diff-resident")

    # The final report can no longer change; an addendum can be added and signed.
    att.click(".rr-report [data-action='add-addendum']")
    att.wait_for_selector(".rr-report .rr-tab.on:has-text('Addendum 1')")
    att.wait_for_selector(".rr-report[data-synced='1']")
    att.keyboard.type("Correction: the nodule is in the right lower lobe.")
    shot(att, "report-addendum-typed")
    addendum = Report.objects.get(parent=report)
    _until(
        att,
        "(id) => fetch(`/api/reports/${id}/`).then(r => r.json()).then(r => r.text.includes('right lower lobe'))",
        arg=str(addendum.pk),
    )
    _sign(att, "sign-final")
    att.wait_for_selector(".rr-report[data-status='final']")
    assert Report.objects.get(pk=report.pk).status == ReportStatus.ADDENDED
    shot(att, "report-addendum-attending")

    # The PDF of the signed report.
    pdf = att.request.get(f"{live_url}/api/reports/{report.pk}/pdf")
    assert pdf.status == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body()[:5] == b"%PDF-"
    assert att.get_attribute(".rr-report .rr-link:has-text('PDF')", "href").endswith("/pdf")

    # The full page shows the same report, read-only now.
    full = login_page(resident, f"/reports/{report.pk}/")
    full.wait_for_selector("#rr-report-page[data-synced='1'] .cm-content")
    _until(full, "() => window.reportPage.panel.editor.text.includes('no further imaging needed')")
    assert full.evaluate("window.reportPage.panel.editor.isReadOnly")
    shot(full, "report-full-page")
    assert not (res.errors or att.errors or full.errors), (res.errors, att.errors, full.errors)

    # Somebody without access gets neither the page nor the socket.
    nosy = login_page(outsider, f"/reports/{report.pk}/")
    assert nosy.request.get(f"{live_url}/reports/{report.pk}/").status == 403


def test_report_versions_critical_result_and_mic(login_page, attending, shot):
    """The toolbar's other actions: Ctrl+S saves a version the Versions view lists, a
    critical result is flagged and its communication recorded (the banner follows), the
    microphone follows the dictation state, and "sign" from the keyboard asks first."""
    study_uid, _, _ = make_study(n=4, size=64, desc="CT CHEST")
    study = Study.objects.get(study_instance_uid=study_uid)
    page = login_page(attending, f"/viewer/{study_uid}/")
    _until(page, "() => Boolean(window.readingViewer && window.readingViewer.report)", timeout=60)
    page.evaluate("window.readingViewer.dock.show('report')")
    _start(page)
    report = Report.objects.get(study=study, parent__isnull=True)

    page.click(EDITOR)
    page.keyboard.press("Control+End")
    page.keyboard.type(" Saved words.")
    _until(page, "() => window.readingViewer.report.panel.editor.text.includes('Saved words.')")
    page.keyboard.press("Control+s")
    page.wait_for_selector(".rr-message:has-text('Saved as version 1.')")
    version = report.versions.get()
    assert version.number == 1 and "Saved words." in version.text
    page.click(".rr-report [data-action='versions']")
    page.wait_for_selector(".rr-versions:not([hidden]) .rr-vnum:has-text('v1')")

    page.click(".rr-report [data-action='flag-critical']")
    page.fill(".rr-form input[name='finding']", "Tension pneumothorax")
    page.select_option(".rr-form select[name='severity']", "urgent")
    page.click(".rr-report [data-action='confirm-critical']")
    page.wait_for_selector(".rr-critical.open:has-text('Urgent')")
    page.wait_for_selector(".rr-message:has-text('Flagged critical. Record who was told.')")
    assert page.locator(".rr-report [data-action='flag-critical']").count() == 0
    critical = report.critical
    assert (critical.finding, critical.severity) == ("Tension pneumothorax", "urgent")

    page.click(".rr-report [data-action='record-communication']")
    page.fill(".rr-form input[name='recipient']", "Dr Ward")
    page.select_option(".rr-form select[name='method']", "phone")
    page.click(".rr-report [data-action='confirm-communication']")
    page.wait_for_selector(".rr-critical:not(.open):has-text('Told: Dr Ward (phone')")
    assert page.locator(".rr-report [data-action='record-communication']").count() == 0
    told = critical.communications.get()
    assert (told.recipient, told.method, told.acknowledged) == ("Dr Ward", "phone", True)
    shot(page, "report-critical-told")

    page.evaluate("window.readingViewer.emit('dictation-state', {state: 'listening'})")
    page.wait_for_selector(".rr-mic.on[data-state='listening']:not([hidden])")
    page.evaluate("window.readingViewer.emit('dictation-state', {state: 'idle'})")
    page.wait_for_selector(".rr-mic:not(.on)[data-state='idle']")

    page.evaluate("window.readingViewer.emit('report-command', {op: 'sign'})")
    page.wait_for_selector(".rr-ask:has-text('Sign final?')")
    page.click(".rr-ask [data-action='cancel']")
    assert page.locator(".rr-ask").count() == 0
    assert Report.objects.get(pk=report.pk).status == ReportStatus.DRAFT
    assert not page.errors, page.errors
