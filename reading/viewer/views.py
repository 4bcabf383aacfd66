"""The diagnostic viewer page. Pixels and metadata come over DICOMweb; this page only
hands the bundle the study it opens and the patient's priors the user may read."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies.access import get_study_for_user, studies_for_user


def _iso(value) -> str:
    return value.isoformat() if value else ""


def bundle_built() -> bool:
    """True once ``make frontend`` has built the viewer bundle into static/viewer/."""
    return (Path(settings.BASE_DIR) / "static" / "viewer" / "viewer.js").exists()


@ensure_csrf_cookie
def viewer(request, study_uid: str):
    """Open ``study_uid`` in the viewer (readers only; the visit is audited as a VIEW)."""
    study = get_study_for_user(request.user, study_uid)
    record_access(request.user, AuditAction.VIEW, study=study, request=request)
    patient = study.patient
    own = study.display_patient()  # this study's own Patient module
    priors = (
        studies_for_user(request.user)
        .filter(patient=patient)
        .exclude(pk=study.pk)
        .order_by("-study_date", "-study_time")
    )
    if study.study_date:
        priors = priors.filter(study_date__lte=study.study_date)
    config = {
        "studyUid": study.study_instance_uid,
        "dicomweb": "/dicomweb",
        "api": "/api",
        "user": {"username": request.user.username, "role": request.user.role},
        # The worklist opens a study someone else holds with ?readonly=1: look, don't measure.
        # ?join=1 opens read-only too when the study has no live session to join.
        "readonly": any(
            request.GET.get(key, "").lower() in {"1", "true", "yes"} for key in ("readonly", "join")
        ),
        "patient": {
            "name": own["name"],
            "id": own["id"],
            "sex": own["sex"],
            "birthDate": _iso(own["birth_date"]),
        },
        "study": {
            "date": _iso(study.study_date),
            "description": study.study_description,
            "accession": study.accession_number,
            "modalities": study.modalities_in_study.replace("\\", "/"),
            "bodyPart": study.body_part_examined,
        },
        "priors": [
            {
                "studyUid": p.study_instance_uid,
                "date": _iso(p.study_date),
                "description": p.study_description,
                "modalities": p.modalities_in_study.replace("\\", "/"),
                "bodyPart": p.body_part_examined,
            }
            for p in priors[:20]
        ],
    }
    return render(
        request,
        "viewer/viewer.html",
        {"study": study, "viewer_config": config, "bundle_built": bundle_built()},
    )
