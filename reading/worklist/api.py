"""REST API under /api/worklist/ (DRF). Reads through the query layer, writes through services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from reading.accounts.access import is_department_admin
from reading.accounts.models import User
from reading.studies.access import (
    can_read_images,
    get_study_for_user,
    studies_for_department_admin,
)
from reading.worklist import assignment, claims, lists, queries, services, transitions
from reading.worklist.models import ReadingItem, SavedWorklist
from reading.worklist.serializers import (
    BulkAssignSerializer,
    DepartmentWorklistSerializer,
    PrioritySerializer,
    ReassignSerializer,
    SavedWorklistSerializer,
    SaveWorklistSerializer,
    StatusSerializer,
    WorklistRowSerializer,
)


def _row(user, study) -> dict:
    item = queries.with_rows(ReadingItem.objects.filter(pk=study.pk)).get()
    return WorklistRowSerializer(item).data


def _conflict(exc: Exception) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _validated(serializer_class, data):
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return s.validated_data


def _study_for_admin(user, uid: str):
    study = studies_for_department_admin(user).filter(study_instance_uid=uid).first()
    if study is None:
        raise Http404("No such study.")
    return study


def _run(fn):
    """Map service errors onto HTTP: rules 409, permissions 403, bad input 400."""
    try:
        return fn()
    except services.WorklistError as exc:
        return _conflict(exc)
    except PermissionDenied as exc:
        raise DRFPermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        raise DRFValidationError(exc.messages) from exc


def page_payload(page, f) -> dict:
    """One worklist page as the API answers it (the page also embeds it on first load)."""
    return {
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
        "num_pages": page.num_pages,
        "query": f.to_query(),
        "results": WorklistRowSerializer(page.items, many=True).data,
    }


@api_view(["GET"])
def worklist(request):
    """The worklist: ``?modality=CT&status=unread&priority=stat&q=...&sort=-date&page=2``."""
    f = queries.WorklistFilter.from_params(request.query_params)
    page = _run(lambda: queries.worklist_page(request.user, f))
    return Response(page_payload(page, f))


@api_view(["GET"])
def study_row(request, study_uid: str):
    study = _run(lambda: get_study_for_user(request.user, study_uid))
    services.ensure_item(study)
    return Response(_row(request.user, study))


@api_view(["POST"])
def claim(request, study_uid: str):
    """Claim to read. 200 with the row when won (or already held), 409 with the holder when not."""
    study = _run(lambda: get_study_for_user(request.user, study_uid))
    result = _run(lambda: claims.claim_study(request.user, study))
    body = {"won": result.won, "row": _row(request.user, study)}
    return Response(body, status=status.HTTP_200_OK if result.won else status.HTTP_409_CONFLICT)


@api_view(["POST"])
def release(request, study_uid: str):
    study = _run(lambda: get_study_for_user(request.user, study_uid))
    out = _run(lambda: claims.release_claim(request.user, study))
    return out if isinstance(out, Response) else Response(_row(request.user, study))


@api_view(["POST"])
def set_status(request, study_uid: str):
    study = _run(lambda: get_study_for_user(request.user, study_uid))
    data = _validated(StatusSerializer, request.data)
    out = _run(lambda: transitions.set_reading_status(request.user, study, data["status"]))
    return out if isinstance(out, Response) else Response(_row(request.user, study))


@api_view(["POST"])
def set_priority(request, study_uid: str):
    if can_read_images(request.user):
        study = get_study_for_user(request.user, study_uid)
    else:
        study = _run(lambda: _study_for_admin(request.user, study_uid))
    data = _validated(PrioritySerializer, request.data)
    _run(lambda: assignment.set_priority(request.user, [study.pk], data["priority"]))
    return Response({"study_instance_uid": study_uid, "priority": data["priority"]})


@api_view(["POST"])
def break_claim(request, study_uid: str):
    study = _run(lambda: _study_for_admin(request.user, study_uid))
    item = _run(lambda: claims.break_claim(request.user, study))
    return Response({"study_instance_uid": study_uid, "reading_status": item.reading_status})


def _reader(user_id) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise DRFValidationError({"user_id": "No such user."})
    return user


@api_view(["POST"])
def reassign(request, study_uid: str):
    study = _run(lambda: _study_for_admin(request.user, study_uid))
    data = _validated(ReassignSerializer, request.data)
    to_user = _reader(data["user_id"])
    item = _run(lambda: assignment.reassign(request.user, study, to_user))
    return Response(
        {
            "study_instance_uid": study_uid,
            "assigned_to": to_user.username,
            "claimed_by": item.claimed_by.username if item.claimed_by else None,
        }
    )


@api_view(["POST"])
def bulk_assign(request):
    """Admin: ``{"study_instance_uids": [...], "user_id": 7 | null, "priority": "stat"}``."""
    studies_qs = _run(lambda: studies_for_department_admin(request.user))
    data = _validated(BulkAssignSerializer, request.data)
    ids = list(
        studies_qs.filter(study_instance_uid__in=data["study_instance_uids"]).values_list(
            "pk", flat=True
        )
    )
    if len(ids) != len(set(data["study_instance_uids"])):
        raise Http404("Some studies do not exist.")
    out = {"updated": len(ids)}
    if "user_id" in data:
        to_user = _reader(data["user_id"]) if data["user_id"] is not None else None
        _run(lambda: assignment.assign_studies(request.user, ids, to_user))
    if "priority" in data:
        _run(lambda: assignment.set_priority(request.user, ids, data["priority"]))
    return Response(out)


@api_view(["GET", "POST"])
def saved_worklists(request):
    if not can_read_images(request.user):
        raise DRFPermissionDenied("Saved worklists are for readers.")
    if request.method == "POST":
        data = _validated(SaveWorklistSerializer, request.data)
        saved = _run(lambda: lists.save_worklist(request.user, data["name"], data["query"]))
        return Response(SavedWorklistSerializer(saved).data, status=status.HTTP_201_CREATED)
    mine = SavedWorklist.objects.filter(owner=request.user)
    return Response(SavedWorklistSerializer(mine, many=True).data)


@api_view(["DELETE"])
def saved_worklist(request, saved_id: int):
    if not can_read_images(request.user):
        raise DRFPermissionDenied("Saved worklists are for readers.")
    _run(lambda: lists.delete_saved_worklist(request.user, saved_id))
    return Response(status=status.HTTP_204_NO_CONTENT)


@api_view(["GET"])
def department_worklists(request):
    """The named worklists the user belongs to (admins: all)."""
    if not (can_read_images(request.user) or is_department_admin(request.user)):
        raise DRFPermissionDenied("No worklists for your role.")
    qs = queries.worklists_for_user(request.user)
    return Response(DepartmentWorklistSerializer(qs, many=True).data)


@api_view(["GET"])
def readers(request):
    """Active attendings and residents (for assignment pickers)."""
    if not (can_read_images(request.user) or is_department_admin(request.user)):
        raise DRFPermissionDenied("No readers list for your role.")
    qs = User.objects.filter(is_active=True, role__in=["attending", "resident"])
    counts = dict(
        ReadingItem.objects.filter(claimed_by__in=qs)
        .values_list("claimed_by")
        .annotate(n=Count("pk"))
        .values_list("claimed_by", "n")
    )
    return Response(
        [
            {
                "id": u.pk,
                "username": u.username,
                "name": str(u),
                "role": u.role,
                "claims": counts.get(u.pk, 0),
            }
            for u in qs
        ]
    )
