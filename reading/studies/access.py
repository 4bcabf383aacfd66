"""The one way to fetch a study (and its series/instances) on behalf of a user.

Views, the REST API, DICOMweb and WebSocket consumers all call these; nothing
else looks studies up for a user.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from reading.accounts.access import is_clinical, is_department_admin
from reading.studies.models import Instance, Series, Study
from reading.studies.prepared import PreparedQuery

_instance_queries = PreparedQuery()


def can_read_images(user) -> bool:
    """Attendings and residents read patient images; admins and outsiders do not."""
    return is_clinical(user)


def studies_for_user(user) -> QuerySet[Study]:
    if not can_read_images(user):
        raise PermissionDenied("Your role does not give access to patient images.")
    return Study.objects.select_related("patient")


def study_filter_for_user(user, via: str = "") -> Q:
    """What ``studies_for_user`` allows, as a condition over ``via`` (e.g. ``"study__"``).

    For listing rows that hang off a study (the worklist's reading items) with
    a plain join instead of an ``IN (subquery)``. Raises like ``studies_for_user``.
    """
    studies_for_user(user)
    # Readers see every study. A restriction added to studies_for_user must be
    # mirrored here (tests/worklist/test_queries.py checks that both agree).
    return Q()


def studies_for_department_admin(user) -> QuerySet[Study]:
    """Study rows for running the workflow (assign, prioritise, break claims).

    Department admins get the rows, never the images: image access stays with
    ``can_read_images``.
    """
    if not is_department_admin(user):
        raise PermissionDenied("Only department admins manage the reading workflow.")
    return Study.objects.select_related("patient")


def get_study_for_user(user, study_instance_uid: str) -> Study:
    study = studies_for_user(user).filter(study_instance_uid=study_instance_uid).first()
    if study is None:
        raise Http404("No such study.")
    return study


def get_series_for_user(user, study_instance_uid: str, series_instance_uid: str) -> Series:
    study = get_study_for_user(user, study_instance_uid)
    series = Series.objects.filter(study=study, series_instance_uid=series_instance_uid).first()
    if series is None:
        raise Http404("No such series in this study.")
    return series


def instances_for_user(
    user, study_instance_uid: str, series_instance_uid: str | None = None
) -> QuerySet[Instance]:
    """Instances of one study (or one series of it) with series, study and patient joined.

    Scoped by ``studies_for_user`` inside the same query, so a lookup costs one
    round trip: the DICOMweb frames path asks for hundreds of frames a second.
    Raises PermissionDenied like ``studies_for_user``.
    """
    studies = studies_for_user(user).filter(study_instance_uid=study_instance_uid)
    qs = Instance.objects.select_related("series__study__patient").filter(series__study__in=studies)
    if series_instance_uid is not None:
        qs = qs.filter(series__series_instance_uid=series_instance_uid)
    return qs


def get_instance_for_user(
    user,
    study_instance_uid: str,
    series_instance_uid: str | None,
    sop_instance_uid: str,
    *,
    only: tuple[str, ...] = (),
) -> Instance:
    """One instance, in one query; ``only`` limits the columns read (others load on access).

    The query is ``instances_for_user``'s, compiled once per shape
    (``reading.studies.prepared``): the role check runs on every call, and the
    SQL carries no value but the three UIDs, so it is the same for every reader.
    A rule in ``studies_for_user`` that depends on the user through a value
    (an id, a department) makes the query unpreparable and it runs through
    the ORM; one that changes the query by role alone is covered by ``shape``.
    """
    studies_for_user(user)  # the role check, every time
    shape = (
        only,
        series_instance_uid is None,
        getattr(user, "role", None),
        getattr(user, "is_superuser", False),
    )

    def build(study_uid, sop_uid, series_uid=None):
        qs = instances_for_user(user, study_uid, series_uid)
        return (qs.only(*only) if only else qs).filter(sop_instance_uid=sop_uid)[:1]

    values = (study_instance_uid, sop_instance_uid)
    if series_instance_uid is not None:
        values += (series_instance_uid,)
    rows = _instance_queries.fetch(shape, build, values)
    if rows is None:
        rows = list(build(*values))
    if not rows:
        get_study_for_user(
            user, study_instance_uid
        )  # "No such study." when that is what is missing
        raise Http404("No such instance in this study.")
    return rows[0]
