"""Pages: the worklist (``/``), opening a study, and the department admin's worklist pages
(``/manage/worklists/``, ``/manage/assign/``); the user pages are the accounts app's."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from reading.accounts.access import is_department_admin
from reading.accounts.models import Role, User
from reading.studies.access import (
    can_read_images,
    get_study_for_user,
    studies_for_department_admin,
)
from reading.worklist import assignment, claims, lists, queries, services
from reading.worklist.api import page_payload
from reading.worklist.forms import WorklistForm
from reading.worklist.models import Priority, ReadingStatus, SavedWorklist, Worklist

# Filter choices (Modality (0008,0060) defined terms, PS3.3 C.7.3.1.1.1) most often read.
MODALITIES = ["CT", "MR", "CR", "DX", "US", "MG", "NM", "PT", "XA", "RF"]


def viewer_url(study_uid: str, **params) -> str:
    query = "&".join(f"{k}=1" for k, v in params.items() if v)
    return f"/viewer/{study_uid}/" + (f"?{query}" if query else "")


def home(request):
    """The worklist for readers; admins go to their pages; others are told why not."""
    if can_read_images(request.user):
        return worklist_page(request)
    if is_department_admin(request.user):
        return redirect("accounts_manage:users")
    return render(request, "worklist/no_access.html", status=403)


def worklist_page(request):
    f = queries.WorklistFilter.from_params(request.GET)
    page = queries.worklist_page(request.user, f)
    initial = page_payload(page, f)
    context = {
        "f": f,
        "initial": initial,
        "me": {"id": request.user.pk, "username": request.user.username},
        "statuses": ReadingStatus.choices,
        "priorities": Priority.choices,
        "modalities": MODALITIES,
        "saved": SavedWorklist.objects.filter(owner=request.user),
        "department_worklists": queries.worklists_for_user(request.user),
    }
    return render(request, "worklist/worklist.html", context)


@require_http_methods(["GET", "POST"])
def open_study(request, study_uid: str):
    """Open to read: claim and go to the viewer; if someone else holds it, offer read-only/join."""
    study = get_study_for_user(request.user, study_uid)
    item = services.ensure_item(study)
    if request.method == "POST":
        mode = request.POST.get("mode", "read")
        if mode == "readonly":
            return HttpResponseRedirect(viewer_url(study_uid, readonly=True))
        if mode == "join":
            return HttpResponseRedirect(viewer_url(study_uid, join=True))
        result = claims.claim_study(request.user, study)
        if result.won:
            return HttpResponseRedirect(viewer_url(study_uid))
        item = result.item
    context = {"study": study, "item": item, "mine": item.claimed_by_id == request.user.pk}
    return render(request, "worklist/open.html", context)


# --- department administration of the reading workflow ------------------------


def _admin_only(request) -> None:
    if not is_department_admin(request.user):
        raise PermissionDenied("Only department admins manage the department.")


@require_http_methods(["GET", "POST"])
def manage_worklists(request, worklist_id: int | None = None):
    _admin_only(request)
    instance = get_object_or_404(Worklist, pk=worklist_id) if worklist_id else None
    form = WorklistForm(request.POST or None, instance=instance)
    if instance is not None and request.method == "GET":
        form.initial["members"] = list(instance.members.values_list("pk", flat=True))
        form.initial["groups"] = list(instance.groups.values_list("pk", flat=True))
    if request.method == "POST":
        if request.POST.get("delete") and instance is not None:
            lists.delete_department_worklist(request.user, instance)
            messages.success(request, f"Deleted {instance.name}.")
            return redirect("worklist:manage_worklists")
        if form.is_valid():
            fields = {k: form.cleaned_data[k] for k in WorklistForm.Meta.fields}
            saved = lists.save_department_worklist(
                request.user,
                instance,
                members=form.cleaned_data["members"],
                groups=form.cleaned_data["groups"],
                **fields,
            )
            messages.success(request, f"Saved {saved.name}.")
            return redirect("worklist:manage_worklists")
    worklists = Worklist.objects.prefetch_related("members", "groups")
    return render(
        request,
        "worklist/manage_worklists.html",
        {"form": form, "worklists": worklists, "editing": instance},
    )


ASSIGN_PAGE_SIZE = 100


def _with_page(params, page: int) -> str:
    q = params.copy()
    q["page"] = str(max(1, page))
    return q.urlencode()


@require_http_methods(["GET", "POST"])
def manage_assign(request):
    """Bulk-assign studies and set priorities; break claims. No patient names or images."""
    _admin_only(request)
    readers = User.objects.filter(is_active=True, role__in=[Role.ATTENDING, Role.RESIDENT])
    if request.method == "POST":
        uids = request.POST.getlist("study")
        ids = list(
            studies_for_department_admin(request.user)
            .filter(study_instance_uid__in=uids)
            .values_list("pk", flat=True)
        )
        action = request.POST.get("action")
        try:
            if not ids:
                raise ValidationError("Select at least one study.")
            if action == "assign":
                reader_id = request.POST.get("reader")
                to_user = readers.filter(pk=reader_id).first() if reader_id else None
                n = assignment.assign_studies(request.user, ids, to_user)
                messages.success(request, f"{n} studies assigned to {to_user or 'nobody'}.")
            elif action == "priority":
                n = assignment.set_priority(request.user, ids, request.POST.get("priority", ""))
                messages.success(request, f"Priority set on {n} studies.")
            elif action == "break":
                for study in studies_for_department_admin(request.user).filter(pk__in=ids):
                    claims.break_claim(request.user, study)
                messages.success(request, f"Claims broken on {len(ids)} studies.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(request.get_full_path())
    f = queries.WorklistFilter.from_params(request.GET)
    qs = studies_for_department_admin(request.user).filter(reading__isnull=False)
    if f.modalities:
        qs = qs.filter(
            queries.any_of([queries.modality_q(m, "modalities_in_study") for m in f.modalities])
        )
    if f.statuses:
        qs = qs.filter(reading__reading_status__in=f.statuses)
    if f.priorities:
        qs = qs.filter(reading__priority__in=f.priorities)
    if request.GET.get("unassigned"):
        qs = qs.filter(reading__assigned_to__isnull=True)
    if f.q:
        qs = qs.filter(accession_number__icontains=f.q)
    qs = qs.select_related("reading", "reading__claimed_by", "reading__assigned_to").order_by(
        "reading__priority_rank", "-reading__study_datetime", "pk"
    )
    count = qs.count()
    start = (f.page - 1) * ASSIGN_PAGE_SIZE
    studies = list(qs[start : start + ASSIGN_PAGE_SIZE])
    return render(
        request,
        "worklist/manage_assign.html",
        {
            "studies": studies,
            "count": count,
            "readers": readers,
            "f": f,
            "statuses": ReadingStatus.choices,
            "priorities": Priority.choices,
            "has_next": start + ASSIGN_PAGE_SIZE < count,
            "prev_query": _with_page(request.GET, f.page - 1),
            "next_query": _with_page(request.GET, f.page + 1),
        },
    )
