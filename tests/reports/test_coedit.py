"""Co-editing through the CRDT: two editors on the report socket, persistence, refusal."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser

from reading.reports import services, ydoc
from reading.reports.models import Report, ReportStatus, ReportUpdate
from reading.reports.ydoc import utf8_offset
from reading.studies.models import Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes
from tests.reports.coedit_client import Editor, settle

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATE = "CLINICAL HISTORY:\n«___»\n\nFINDINGS:\nLungs: «clear|nodule».\n\nIMPRESSION:\n«___»\n"


@pytest.fixture
def report(transactional_db, resident):
    datasets = make_ct_series(1)
    assert ingest_instance(to_bytes(datasets[0])).ok
    study = Study.objects.get(study_instance_uid=str(datasets[0].StudyInstanceUID))
    return Report.objects.create(study=study, text=TEMPLATE, created_by=resident)


@pytest.fixture
def editors():
    opened: list[Editor] = []

    def make(user, report) -> Editor:
        editor = Editor(user, report.pk)
        opened.append(editor)
        return editor

    yield make


async def _open(editors, user, report) -> Editor:
    editor = editors(user, report)
    connected, code = await editor.connect()
    assert connected, code
    return editor


def _stored_text(report) -> str:
    return Report.objects.get(pk=report.pk).text


async def test_document_starts_from_the_report_text(editors, attending, resident, report):
    # Two editors opening at once must not each seed the text (it would be doubled).
    a, b = editors(attending, report), editors(resident, report)
    await asyncio.gather(a.connect(), b.connect())
    assert a.text() == TEMPLATE
    assert b.text() == TEMPLATE
    assert await sync_to_async(ydoc.document_text)(report.pk) == TEMPLATE


async def test_interleaved_edits_converge_with_nothing_lost(editors, attending, resident, report):
    a = await _open(editors, attending, report)
    b = await _open(editors, resident, report)
    # pycrdt counts UTF-8 bytes (the browser's Yjs counts UTF-16 units).
    findings = utf8_offset(TEMPLATE, TEMPLATE.index("Lungs:"))
    # Both type at the same place before seeing each other's keystrokes.
    for word_a, word_b in [("Heart ", "Pleura "), ("normal. ", "clear. "), ("X", "Y")]:
        await a.edit(lambda t, w=word_a: t.insert(findings, w))
        await b.edit(lambda t, w=word_b: t.insert(findings, w))
    # One deletes a range while the other types inside it.
    history = utf8_offset(TEMPLATE, TEMPLATE.index("«___»"))
    blank = len("«___»".encode())
    await a.edit(lambda t: t.__delitem__(slice(history, history + blank)))
    await b.edit(lambda t: t.insert(history + 2, "Cough"))  # after "«"
    await settle(a, b)

    assert a.text() == b.text()
    final = a.text()
    for typed in ("Heart ", "Pleura ", "normal. ", "clear. ", "X", "Y", "Cough"):
        assert typed in final
    assert "«___»\n\nFINDINGS" not in final  # the deletion held too
    assert await sync_to_async(_stored_text)(report) == final
    assert await sync_to_async(ydoc.document_text)(report.pk) == final


async def test_server_restart_loses_nothing(editors, attending, resident, report):
    a = await _open(editors, attending, report)
    await a.edit(lambda t: t.insert(len(t), "Typed before the restart."))
    await a.close()
    # A "restart": no consumer, no in-memory room; only the database remains.
    b = await _open(editors, resident, report)
    assert b.text() == TEMPLATE + "Typed before the restart."
    await b.edit(lambda t: t.insert(0, "PROCEDURE:\nCT chest\n\n"))
    await b.close()
    c = await _open(editors, attending, report)
    assert c.text() == "PROCEDURE:\nCT chest\n\n" + TEMPLATE + "Typed before the restart."
    assert await sync_to_async(_stored_text)(report) == c.text()


async def test_many_sockets_saving_at_once_store_each_update_once(editors, attending, report):
    # The sockets' writes run in the thread pool, several at a time in one process:
    # the row lock still puts them in order, nothing is lost or stored twice.
    people = [await _open(editors, attending, report) for _ in range(6)]
    before = await sync_to_async(ReportUpdate.objects.filter(report=report).count)()

    async def type_words(i, editor):
        for n in range(4):
            await editor.edit(lambda t, w=f"<{i}.{n}>": t.insert(len(t), w))

    await asyncio.gather(*(type_words(i, e) for i, e in enumerate(people)))
    await settle(*people)
    final = people[0].text()
    for i in range(len(people)):
        for n in range(4):
            assert final.count(f"<{i}.{n}>") == 1, (i, n, final)
    assert await sync_to_async(_stored_text)(report) == final
    assert await sync_to_async(ydoc.document_text)(report.pk) == final
    stored = await sync_to_async(ReportUpdate.objects.filter(report=report).count)()
    assert stored - before == len(people) * 4


async def test_reconnecting_editor_sends_what_the_server_missed(editors, attending, report):
    a = await _open(editors, attending, report)
    await a.close()
    # Typed while offline: the step 2 answering the server's step 1 carries it.
    a.ytext.insert(0, "Offline words. ")
    offline = Editor(attending, report.pk)
    offline.doc = a.doc
    await offline.connect()
    await offline.drain()
    await offline.close()
    assert (await sync_to_async(_stored_text)(report)).startswith("Offline words. ")
    before = await sync_to_async(ReportUpdate.objects.count)()
    # Reconnecting with nothing new stores nothing.
    again = Editor(attending, report.pk)
    again.doc = a.doc
    await again.connect()
    await again.drain()
    await again.close()
    assert await sync_to_async(ReportUpdate.objects.count)() == before


async def test_compaction_keeps_the_text(editors, attending, report, monkeypatch):
    monkeypatch.setattr(ydoc, "COMPACT_AFTER", 5)
    a = await _open(editors, attending, report)
    for i in range(12):
        await a.edit(lambda t, i=i: t.insert(len(t), f"{i};"))
    await a.drain()
    assert await sync_to_async(ReportUpdate.objects.filter(report=report).count)() < 5
    b = await _open(editors, attending, report)
    assert b.text() == a.text() == TEMPLATE + "".join(f"{i};" for i in range(12))


async def test_updates_after_final_are_refused(editors, attending, resident, report):
    a = await _open(editors, attending, report)
    b = await _open(editors, resident, report)
    await a.edit(lambda t: t.insert(0, "Signed text. "))
    await b.drain()
    signed = b.text()
    # The sign-off service tells open editors (ydoc.broadcast_status) after commit.
    await sync_to_async(services.sign_final)(report, attending, allow_unfilled=True)
    await a.drain()
    assert a.denied == ["final"]

    await a.edit(lambda t: t.insert(0, "Too late. "))
    await a.drain()
    await b.drain()
    assert b.text() == signed  # never broadcast
    assert await sync_to_async(_stored_text)(report) == signed
    # A new editor is told at once and gets the signed text only.
    c = await _open(editors, resident, report)
    assert c.denied == ["final"]
    assert c.text() == signed


async def test_outsider_admin_and_anonymous_are_refused(editors, outsider, admin_user, report):
    for user in (outsider, admin_user):
        connected, code = await editors(user, report).connect()
        assert (connected, code) == (False, 4403)
    connected, _ = await editors(AnonymousUser(), report).connect()
    assert not connected
    assert await sync_to_async(ReportUpdate.objects.count)() == 0


async def test_awareness_is_relayed_and_cleared_on_disconnect(editors, attending, resident, report):
    a = await _open(editors, attending, report)
    b = await _open(editors, resident, report)
    await a.announce(4242, 1, '{"user":{"name":"Att","color":"#e91e63"}}')
    await b.drain()
    assert any(b"Att" in update for update in b.awareness)
    await a.close()
    await b.drain()
    # The last awareness update says client 4242 is gone (state null).
    assert b.awareness[-1].endswith(b"null")


async def test_server_edit_reaches_open_editors(editors, attending, report):
    a = await _open(editors, attending, report)
    await a.edit(lambda t: t.insert(0, "Typed live. "))
    await a.drain()
    wanted = ("Typed live. " + TEMPLATE).replace("Lungs: «clear|nodule».", "Lungs: clear.")
    text = await sync_to_async(ydoc.replace_text)(report.pk, wanted, attending)
    assert text == wanted
    await a.drain()
    assert a.text() == wanted  # the « » spans around the edit are intact
    assert await sync_to_async(_stored_text)(report) == wanted


async def test_resident_is_read_only_on_a_preliminary(editors, attending, resident, report):
    r = await _open(editors, resident, report)
    a = await _open(editors, attending, report)
    await sync_to_async(services.sign_preliminary)(report, resident, allow_unfilled=True)
    await r.drain()
    assert r.denied == ["not_allowed"]
    await r.edit(lambda t: t.insert(0, "Resident after signing. "))
    # The attending edits the preliminary; the resident sees it live.
    await a.edit(lambda t: t.insert(0, "Attending edit. "))
    await a.drain()
    await r.drain()
    stored = await sync_to_async(_stored_text)(report)
    assert stored == "Attending edit. " + TEMPLATE
    assert a.text() == stored
    assert "Attending edit. " in r.text()
    assert await sync_to_async(Report.objects.filter(status=ReportStatus.PRELIMINARY).count)() == 1


async def test_logout_closes_the_report_socket(editors, resident, report):
    """Logout and deactivation close every socket of the user, the report's included."""
    from channels.layers import get_channel_layer

    from reading.accounts.signals import USER_DISCONNECT, user_group

    editor = await _open(editors, resident, report)
    await get_channel_layer().group_send(user_group(resident.pk), {"type": USER_DISCONNECT})
    output = await editor.comm.receive_output(timeout=3)
    while output["type"] != "websocket.close":
        output = await editor.comm.receive_output(timeout=3)
    assert output["code"] == 4401
