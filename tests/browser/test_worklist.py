"""The worklist end to end: filter + sort + open, live arrival, held claims, admin creates a user."""

from __future__ import annotations

import re
from datetime import date

import pytest

from reading.accounts.models import User
from reading.accounts.services import create_api_token
from reading.worklist.models import Priority, ReadingItem
from tests.dicom_factory import make_dataset, to_bytes
from tests.worklist.conftest import build_study

pytestmark = pytest.mark.browser

ROWS = "#worklist tbody tr[data-uid]"


def accessions(page) -> list[str]:
    return page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.cells[4].textContent)")


def test_filter_sort_keyboard_and_open(login_page, attending, shot, live_url):
    build_study(
        accession="WL-CT1",
        patient_name="Adams^Amy",
        modality="CT",
        priority=Priority.STAT,
        study_date=date(2026, 11, 19),
    )
    build_study(
        accession="WL-MR1", patient_name="Baker^Ben", modality="MR", study_date=date(2026, 11, 21)
    )
    target = build_study(
        accession="WL-CT2", patient_name="Carter^Cal", modality="CT", study_date=date(2026, 11, 22)
    )
    page = login_page(attending, "/", bypass_csp=True)  # string predicates below
    page.wait_for_selector(".wl-live.on")
    assert accessions(page)[:3] == ["WL-CT1", "WL-CT2", "WL-MR1"]  # STAT first, then newest
    shot(page, "worklist-all")

    page.select_option("select[name=modality]", "CT")
    page.wait_for_function("document.querySelectorAll('#worklist tbody tr[data-uid]').length === 2")
    assert "modality=CT" in page.url
    page.click("#worklist th[data-sort=patient]")
    page.wait_for_url(re.compile(r"sort=patient"))
    page.wait_for_function(
        "document.querySelector('#worklist tbody tr').cells[4].textContent === 'WL-CT1'"
    )
    page.click("#worklist th[data-sort=patient]")
    page.wait_for_url(re.compile(r"sort=-patient"))
    page.wait_for_function(
        "document.querySelector('#worklist tbody tr').cells[4].textContent === 'WL-CT2'"
    )
    assert accessions(page) == ["WL-CT2", "WL-CT1"]

    # "/" focuses search; typing filters as you type; the URL holds the state.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "wl-q"
    page.keyboard.type("cart")
    page.wait_for_url(re.compile(r"q=cart"))
    page.wait_for_function("document.querySelectorAll('#worklist tbody tr[data-uid]').length === 1")
    shot(page, "worklist-filtered")

    # A bookmarked URL restores the same view.
    page2 = login_page(attending, "/" + page.url.split("/", 3)[3], bypass_csp=True)
    assert accessions(page2) == ["WL-CT2"]
    assert page2.input_value("#wl-q") == "cart"
    assert page2.input_value("select[name=modality]") == "CT"

    # Arrows move, Enter opens: it claims and goes to the viewer URL.
    page.keyboard.press("ArrowDown")
    assert page.locator("#worklist tbody tr.selected").get_attribute("data-uid") == (
        target.study_instance_uid
    )
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(f"{live_url}/viewer/{target.study_instance_uid}/")
    item = ReadingItem.objects.get(pk=target.pk)
    assert item.claimed_by == attending and item.reading_status == "in_progress"

    # The other tab shows the claim live, and releases it.
    claim = page2.locator(ROWS, has_text="WL-CT2").locator(".claim")
    claim.wait_for(timeout=3000)
    assert claim.inner_text() == "▶ you"
    page2.locator(ROWS, has_text="WL-CT2").locator(".wl-release").click()
    page2.wait_for_function(
        "!document.querySelector('#worklist tbody tr[data-uid] .claim')", timeout=3000
    )
    item.refresh_from_db()
    assert item.claimed_by is None and item.reading_status == "unread"
    assert page2.errors == []


def test_live_arrival_claims_and_held_dialog(
    login_page, attending, resident, live_url, shot, playwright_instance
):
    build_study(accession="WL-OLD", patient_name="Old^Study")
    page = login_page(attending, "/", bypass_csp=True)
    page.wait_for_selector(".wl-live.on")
    assert accessions(page) == ["WL-OLD"]

    # A study arrives through the server (the upload API, as another reader with a token).
    token = create_api_token(resident)
    api = playwright_instance.request.new_context(
        base_url=live_url, extra_http_headers={"Authorization": f"Bearer {token.key}"}
    )
    ds = make_dataset(accession="WL-NEW", patient_name="New^Arrival", study_date=date(2026, 11, 23))
    resp = api.post(
        "/api/uploads/",
        multipart={
            "file": {"name": "new.dcm", "mimeType": "application/dicom", "buffer": to_bytes(ds)}
        },
    )
    assert resp.ok, resp.text()
    page.wait_for_function(
        "[...document.querySelectorAll('#worklist tbody tr')].some(r => r.dataset.uid && "
        "r.cells[4].textContent === 'WL-NEW')",
        timeout=3000,
    )
    assert page.url == f"{live_url}/"  # no reload, no navigation
    shot(page, "worklist-live-arrival")

    # The resident claims it in another tab; the attending's row shows who holds it.
    res_page = login_page(resident, "/", bypass_csp=True)
    res_page.wait_for_selector(".wl-live.on")
    res_page.locator(ROWS, has_text="WL-NEW").click()
    with res_page.expect_navigation():
        res_page.keyboard.press("Enter")
    row = page.locator(ROWS, has_text="WL-NEW")
    row.locator(".claim").wait_for(timeout=3000)
    assert "Res" in row.locator(".claim").inner_text()
    assert "In progress" in row.inner_text()

    # The attending tries to open it: told who reads it, offered read-only or join.
    row.dblclick()
    page.wait_for_selector("#wl-held[open]")
    assert "being read by Res" in page.inner_text("#wl-held-text")
    shot(page, "worklist-held-dialog")
    with page.expect_navigation():
        page.click("#wl-readonly")
    assert page.url.endswith(f"/viewer/{ds.StudyInstanceUID}/?readonly=1")
    assert (
        ReadingItem.objects.get(study__study_instance_uid=ds.StudyInstanceUID).claimed_by
        == resident
    )
    api.dispose()


def test_saved_worklist(login_page, attending):
    build_study(accession="WL-SAVE", modality="MR", priority=Priority.STAT)
    page = login_page(attending, "/?priority=stat&modality=MR")
    page.fill("#wl-save input[name=name]", "My STAT MRs")
    page.click("#wl-save button")
    link = page.locator("#wl-saved a", has_text="My STAT MRs")
    link.wait_for()
    assert link.get_attribute("href") == "/?modality=MR&priority=stat"
    page2 = login_page(attending, "/")
    page2.click("#wl-saved a >> text=My STAT MRs")
    page2.wait_for_url(re.compile(r"priority=stat"))
    assert accessions(page2) == ["WL-SAVE"]


def test_admin_creates_a_user_who_then_logs_in(login_page, admin_user, browser, live_url, shot):
    page = login_page(admin_user, "/")
    assert page.url == f"{live_url}/manage/"
    page.fill("#create-user input[name=username]", "drnew")
    page.fill("#create-user input[name=display_name]", "Dr New")
    page.select_option("#create-user select[name=role]", "resident")
    page.fill("#create-user input[name=password]", "fresh-pass-123")
    page.click("#create-user button[type=submit]")
    page.wait_for_selector("tr[data-username=drnew]")
    shot(page, "manage-users")
    assert User.objects.get(username="drnew").role == "resident"

    context = browser.new_context()
    newbie = context.new_page()
    newbie.goto(live_url + "/")
    newbie.fill("#id_username", "drnew")
    newbie.fill("#id_password", "fresh-pass-123")
    newbie.click("button[type=submit]")
    newbie.wait_for_selector("#worklist")
    assert "Dr New" in newbie.inner_text(".who")
    newbie.wait_for_selector(".wl-live.on")

    build_study(accession="WL-ADM", patient_name="Private^Person")
    page.goto(live_url + "/manage/assign/")
    assert "WL-ADM" in page.inner_text("#assign") and "Private" not in page.content()
    shot(page, "manage-assign")
    page.goto(live_url + "/manage/worklists/")
    shot(page, "manage-worklists")
    page.goto(live_url + "/manage/")

    # Deactivated: the open worklist's socket closes and the next request lands on the login page.
    page.locator("tr[data-username=drnew] button[value=deactivate]").click()
    page.wait_for_selector("tr[data-username=drnew].inactive")
    newbie.wait_for_url(re.compile(r"/accounts/login/"), timeout=5000)
    context.close()
