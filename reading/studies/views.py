from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies.access import get_study_for_user, studies_for_user
from reading.studies.batch import BatchSummary, ingest_items, iter_upload, record_store_events


def upload(request):
    """Files, a folder or a zip from the browser; ``static/js/upload.js`` posts them."""
    studies_for_user(request.user)  # readers only
    return render(request, "studies/upload.html")


@require_POST
def upload_api(request):
    """``POST /api/uploads/``: one or a few files (field ``file``), each a DICOM file or a zip.

    An optional ``path`` field per file carries its path in a dropped folder
    (browsers send only the base name). Answers the result of every instance,
    zip members included; a bad file fails alone.
    """
    try:
        studies_for_user(request.user)  # readers only
    except PermissionDenied as exc:
        return JsonResponse({"detail": str(exc)}, status=403)
    files = request.FILES.getlist("file")
    if not files:
        return JsonResponse({"detail": "No file in the request (form field 'file')."}, status=400)
    paths = request.POST.getlist("path")
    summary = BatchSummary()
    for index, uploaded in enumerate(files):
        name = (paths[index] if index < len(paths) and paths[index] else uploaded.name)[:512]
        summary.extend(ingest_items(iter_upload(uploaded, name, size=uploaded.size)))
    record_store_events(summary, user=request.user, request=request, detail="upload")
    return JsonResponse(summary.as_dict())


def study_detail(request, study_uid: str):
    study = get_study_for_user(request.user, study_uid)
    record_access(request.user, AuditAction.VIEW, study=study, request=request)
    series = study.series.all()
    return render(request, "studies/detail.html", {"study": study, "series": series})
