"""The database side of a QIDO-RS search: the matches of one search, in a bounded
number of queries whatever their number.

One query for the matches (with their parents joined), compiled once per shape
when it is made only of exact matches (``reading.studies.prepared``), and one
more only when the answer needs attributes that live in the stored instance
metadata (``representative_metadata``).
"""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery

from reading.studies.dicomweb.qidomatch import INSTANCE, LEVEL_ATTRS, SERIES, STUDY, SearchRequest
from reading.studies.models import Instance, Series, Study
from reading.studies.prepared import PreparedQuery, q_shape, q_with_values


def level_queryset(level: str, scope) -> QuerySet:
    if level == STUDY:
        return scope.select_related("patient").order_by("-study_date", "-study_time", "pk")
    if level == SERIES:
        return (
            Series.objects.filter(scope)
            .select_related("study__patient")
            .order_by("-study__study_date", "study_id", "series_number", "pk")
        )
    return (
        Instance.objects.filter(scope)
        .select_related("series__study__patient")
        .order_by("series__study_id", "series__series_number", "series_id", "instance_number", "pk")
    )


def representative_metadata(level: str, objects: list) -> dict[int, dict]:
    """One stored instance's metadata per study/series, in a single query."""
    if not objects:
        return {}
    field = "series__study" if level == STUDY else "series"
    model = Study if level == STUDY else Series
    first = Instance.objects.filter(**{field: OuterRef("pk")}).order_by("instance_number", "pk")
    pairs = model.objects.filter(pk__in=[o.pk for o in objects]).annotate(
        first_instance=Subquery(first.values("pk")[:1])
    )
    rows = Instance.objects.filter(pk__in=Subquery(pairs.values("first_instance"))).values_list(
        field, "metadata"
    )
    return dict(rows)


# Conditions whose value goes into the SQL unchanged (exact text and UID matches):
# searches made only of these are compiled once per shape (``reading.studies.prepared``).
EXACT_LEAVES = {
    level: {
        f"{a.path}{suffix}"
        for a in attrs.values()
        if a.kind in ("text", "uid", "cs")
        for suffix in ("", "__exact", "__in")
    }
    for level, attrs in LEVEL_ATTRS.items()
}
_searches = PreparedQuery()


def find_matches(
    level: str, scope, query: SearchRequest, needs_metadata: bool, prepared_as
) -> list:
    """The matches of a search; compiled once per shape when ``prepared_as`` names the
    scope (one that is the same query for every user it is given to)."""

    def build(filters: Q):
        qs = level_queryset(level, scope).filter(filters)
        if level == INSTANCE and not needs_metadata:
            qs = qs.defer("metadata", "frame_offsets")
        end = query.offset + query.limit if query.limit is not None else None
        return qs[query.offset : end]

    values: list[str] = []
    shape = q_shape(query.filters, EXACT_LEAVES[level], values) if prepared_as is not None else None
    if shape is not None:
        key = (level, prepared_as, shape, needs_metadata, query.offset, query.limit)
        rows = _searches.fetch(
            key, lambda *v: build(q_with_values(query.filters, iter(v))), tuple(values)
        )
        if rows is not None:
            return rows
    return list(build(query.filters))
