"""Sign-off services: every transition and who may make it."""

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from reading.audit.models import AuditEvent
from reading.reading_sessions.models import SessionEvent
from reading.reading_sessions.services import create_session
from reading.reports import services
from reading.reports.models import Report, ReportStatus, VersionReason
from reading.worklist.models import ReadingItem
from tests.reports.conftest import fill

pytestmark = pytest.mark.django_db
RS = ReportStatus


def _draft(user, study, filled=True):
    report, created = services.get_or_create_report(user, study.study_instance_uid)
    if filled:
        services.save_text(report, fill(report.text), user)
    return report


def test_draft_from_the_chosen_template(resident, ct_chest):
    report, created = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    assert created and report.status == RS.DRAFT
    assert report.template.slug == "ct-chest"
    assert report.text.startswith("CLINICAL HISTORY:\n«___»")
    assert "FINDINGS:\nLungs and airways:" in report.text
    again, created = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    assert again.pk == report.pk and not created
    assert ReadingItem.objects.get(pk=ct_chest.pk).report_status == "draft"


def test_a_department_without_templates_gets_the_shipped_ones(resident, ct_chest):
    """A flushed database (or every template deleted) still starts reports from one."""
    from reading.reports.models import Macro, ReportTemplate

    ReportTemplate.objects.all().delete()
    Macro.objects.filter(owner=None).delete()
    report, _ = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    assert report.template.slug == "ct-chest"
    assert "FINDINGS:" in report.text
    assert Macro.objects.filter(owner=None, name="normal chest").exists()


def test_templates_follow_the_study(store_study, resident):
    brain = store_study(
        modality="MR",
        body_part="BRAIN",
        study_description="MRI BRAIN W/WO",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.4",
    )
    foot = store_study(body_part="FOOT", study_description="CT LEFT FOOT")
    assert services.choose_template(brain).slug == "mr-brain"
    assert services.choose_template(foot).slug == "generic"


@pytest.mark.parametrize("who", ["admin_user", "outsider"])
def test_no_report_without_a_clinical_role(request, who, ct_chest):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.get_or_create_report(user, ct_chest.study_instance_uid)


def test_resident_preliminary_then_attending_final(resident, attending, ct_chest):
    report = _draft(resident, ct_chest)
    session = create_session(study=ct_chest, host=resident)
    services.sign_preliminary(report, resident, attending)
    report.refresh_from_db()
    assert report.status == RS.PRELIMINARY
    assert report.preliminary_signed_by == resident and report.attending == attending
    item = ReadingItem.objects.get(pk=ct_chest.pk)
    assert (item.report_status, item.reading_status) == ("preliminary", "preliminary")
    # The resident may no longer edit; the attending may.
    assert not services.can_edit(resident, report) and services.can_edit(attending, report)
    with pytest.raises(services.NotAllowed):
        services.save_text(report, report.text + "x", resident)
    services.save_text(
        report, report.text.replace("see above", "edited by attending", 1), attending
    )
    # A resident cannot sign final.
    with pytest.raises(services.NotAllowed):
        services.sign_final(report, resident)
    services.sign_final(report, attending)
    report.refresh_from_db()
    assert report.status == RS.FINAL and report.final_signed_by == attending
    assert "preliminary report of Res" in report.attestation
    assert [v.reason for v in report.versions.all()] == [
        VersionReason.SIGN_PRELIMINARY,
        VersionReason.SIGN_FINAL,
    ]
    item.refresh_from_db()
    assert (item.report_status, item.reading_status) == ("final", "final")
    details = set(
        AuditEvent.objects.filter(
            action="report", study_instance_uid=ct_chest.study_instance_uid
        ).values_list("detail", flat=True)
    )
    assert {f"sign_preliminary:{report.pk}", f"sign_final:{report.pk}"} <= details
    kinds = list(
        SessionEvent.objects.filter(session=session, type="report.status").values_list(
            "payload__status", flat=True
        )
    )
    assert kinds[-2:] == ["preliminary", "final"]


def test_final_is_immutable(attending, ct_chest):
    report = _draft(attending, ct_chest)
    services.sign_final(report, attending)
    with pytest.raises(services.ReportLocked):
        services.save_text(report, "changed", attending)
    assert not services.can_edit(attending, report)
    with pytest.raises(services.WrongStatus):
        services.sign_final(report, attending)
    with pytest.raises(services.WrongStatus):
        services.sign_preliminary(report, attending)
    assert Report.objects.get(pk=report.pk).text != "changed"


def test_unfilled_fields_block_signing(resident, ct_chest):
    report = _draft(resident, ct_chest, filled=False)
    with pytest.raises(services.UnfilledFields) as refused:
        services.sign_preliminary(report, resident)
    assert {f.section for f in refused.value.fields} >= {"CLINICAL HISTORY", "IMPRESSION"}
    services.sign_preliminary(report, resident, allow_unfilled=True)
    assert report.status == RS.PRELIMINARY


def test_preliminary_routes_only_to_an_attending(resident, ct_chest, django_user_model):
    other = django_user_model.objects.create(username="res2", role="resident")
    report = _draft(resident, ct_chest)
    with pytest.raises(services.ReportError):
        services.sign_preliminary(report, resident, other)


def test_versions_skip_unchanged_text(resident, ct_chest):
    report = _draft(resident, ct_chest)
    v1 = services.create_version(report, resident)
    assert services.create_version(report, resident).pk == v1.pk
    services.save_text(report, report.text + "More.\n", resident)
    v2 = services.create_version(report, resident)
    assert (v1.number, v2.number) == (1, 2) and v2.text.endswith("More.\n")


def test_addendum_signed_makes_the_original_addended(resident, attending, ct_chest):
    report = _draft(resident, ct_chest)
    with pytest.raises(services.WrongStatus):
        services.create_addendum(report, resident)
    services.sign_final(report, attending)
    addendum, created = services.create_addendum(report, resident)
    assert created and addendum.parent_id == report.pk and addendum.status == RS.DRAFT
    assert services.create_addendum(report, attending) == (addendum, False)
    services.save_text(addendum, "ADDENDUM:\nThe nodule is calcified.\n", resident)
    services.sign_preliminary(addendum, resident, attending)
    services.sign_final(addendum, attending)
    report.refresh_from_db()
    assert report.status == RS.ADDENDED and report.text != addendum.text
    item = ReadingItem.objects.get(pk=ct_chest.pk)
    assert (item.report_status, item.reading_status) == ("addended", "addended")
    # A second addendum is a new report.
    second, created = services.create_addendum(report, attending)
    assert created and second.pk != addendum.pk


def test_critical_result_closed_loop(resident, ct_chest):
    report = _draft(resident, ct_chest)
    with pytest.raises(services.WrongStatus):
        services.record_communication(report, resident, "Dr Ward", "phone")
    critical = services.flag_critical(report, resident, "Large right pneumothorax")
    assert critical.acknowledged_at is None
    # A voicemail is recorded but leaves the loop open.
    services.record_communication(
        report, resident, "Dr Ward", "phone", timezone.now(), acknowledged=False, notes="voicemail"
    )
    critical.refresh_from_db()
    assert critical.acknowledged_at is None
    when = timezone.now()
    services.record_communication(report, resident, "Dr Ward (ED)", "phone", when)
    critical.refresh_from_db()
    assert critical.acknowledged_at == when
    assert [c.recipient for c in critical.communications.all()] == ["Dr Ward", "Dr Ward (ED)"]
    with pytest.raises(services.ReportError):
        services.record_communication(report, resident, "x", "telepathy")
