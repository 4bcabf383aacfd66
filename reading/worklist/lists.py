"""Named department worklists and readers' saved worklists: the definitions of the
lists, not their rows.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from reading.worklist.models import SavedWorklist, Worklist
from reading.worklist.services import require_admin, require_clinical


def save_worklist(owner, name: str, query: str) -> SavedWorklist:
    """Save (or overwrite) the owner's personal worklist ``name``."""
    require_clinical(owner)
    name = name.strip()[:100]
    if not name:
        raise ValidationError("A saved worklist needs a name.")
    saved, _ = SavedWorklist.objects.update_or_create(
        owner=owner, name=name, defaults={"query": query.lstrip("?")[:1000]}
    )
    return saved


def delete_saved_worklist(owner, saved_id: int) -> None:
    deleted, _ = SavedWorklist.objects.filter(owner=owner, pk=saved_id).delete()
    if not deleted:
        raise PermissionDenied("No such saved worklist of yours.")


def save_department_worklist(actor, worklist: Worklist | None, **fields) -> Worklist:
    """Admin: create or update a named worklist; ``members``/``groups`` replace the sets."""
    require_admin(actor)
    members = fields.pop("members", None)
    groups = fields.pop("groups", None)
    worklist = worklist or Worklist()
    for key, value in fields.items():
        setattr(worklist, key, value)
    worklist.full_clean()
    with transaction.atomic():
        worklist.save()
        if members is not None:
            worklist.members.set(members)
        if groups is not None:
            worklist.groups.set(groups)
    return worklist


def delete_department_worklist(actor, worklist: Worklist) -> None:
    require_admin(actor)
    worklist.delete()
