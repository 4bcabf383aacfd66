"""Department admins edit report templates and department macros on /manage/."""

import pytest

from reading.reports.models import Macro, ReportTemplate
from reading.reports.services import choose_template

pytestmark = pytest.mark.django_db


def test_admin_edits_a_template_in_the_report_format(as_admin, store_study):
    assert as_admin.get("/manage/report-templates/").status_code == 200
    response = as_admin.post(
        "/manage/report-templates/",
        {
            "name": "CT abdomen",
            "slug": "ct-abdomen",
            "modalities": "CT",
            "body_parts": "ABDOMEN",
            "keywords": "abdomen,pelvis",
            "is_active": "on",
            "text": "TECHNIQUE:\nCT «with|without» contrast.\n\nFINDINGS:\nLiver: «normal|___».\n"
            "\nIMPRESSION:\n«___»\n",
        },
    )
    assert response.status_code == 302
    template = ReportTemplate.objects.get(slug="ct-abdomen")
    assert [s["heading"] for s in template.sections] == ["TECHNIQUE", "FINDINGS", "IMPRESSION"]
    study = store_study(body_part="ABDOMEN", study_description="CT ABDOMEN PELVIS")
    assert choose_template(study) == template
    page = as_admin.get(f"/manage/report-templates/{template.pk}/").content.decode()
    assert "Liver: «normal|___»." in page
    as_admin.post("/manage/report-templates/", {"macro_name": "Liver OK", "macro_text": "Normal."})
    assert Macro.objects.get(name="liver ok", owner=None).text == "Normal."


@pytest.mark.parametrize("who", ["as_resident", "as_attending", "as_outsider"])
def test_only_admins_manage_templates(request, who):
    client = request.getfixturevalue(who)
    assert client.get("/manage/report-templates/").status_code == 403
    response = client.post("/manage/report-templates/", {"macro_name": "x", "macro_text": "y"})
    assert response.status_code == 403
    assert not Macro.objects.filter(name="x").exists()
