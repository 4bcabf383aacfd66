from django.shortcuts import render

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies.access import can_read_images, get_study_for_user, studies_for_user


def home(request):
    """The start page: the study list for readers (the worklist replaces it)."""
    studies = []
    if can_read_images(request.user):
        studies = studies_for_user(request.user).order_by("-received_at")[:200]
    return render(request, "studies/home.html", {"studies": studies})


def upload(request):
    studies_for_user(request.user)  # readers only
    return render(request, "studies/upload.html")


def study_detail(request, study_uid: str):
    study = get_study_for_user(request.user, study_uid)
    record_access(request.user, AuditAction.VIEW, study=study, request=request)
    series = study.series.all()
    return render(request, "studies/detail.html", {"study": study, "series": series})
