"""The worklist query layer: filters, sort and pagination in a bounded number of queries.

Every list is two SQL queries whatever the page size: a COUNT and the page itself,
with study, patient and the people on it joined in. Filters, sorts and counts
run on ``ReadingItem`` alone (it holds copies of the study fields the worklist
filters on), so the common lists are index scans without joins. Which studies a
user may see comes from ``reading.studies.access`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from reading.accounts.access import is_department_admin
from reading.studies.access import study_filter_for_user
from reading.worklist.models import (
    PRIORITY_RANK,
    Priority,
    ReadingItem,
    ReadingStatus,
    Worklist,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# Sort keys (the URL's ``sort``; a leading "-" reverses) -> ORDER BY columns of ReadingItem.
SORTS: dict[str, tuple[str, ...]] = {
    "priority": ("priority_rank", "-study_datetime"),
    "patient": ("patient_name",),
    "mrn": ("patient_id",),
    "age": ("-study__patient__patient_birth_date",),
    "sex": ("study__patient__patient_sex",),
    "accession": ("accession_number",),
    "modality": ("modality",),
    "body_part": ("body_part",),
    "description": ("study__study_description",),
    "date": ("study_datetime",),
    "images": ("study__number_of_study_related_instances",),
    "status": ("reading_status",),
    "assigned": ("assigned_to__username",),
    "ai": ("ai_status",),
    "report": ("report_status",),
}
# Up to this many matches the page sorts the matches; above it, it walks the sort index.
# (Walking an index for a rare match reads the whole table row by row.)
SPARSE_MATCHES = 2000
DEFAULT_SORT = "priority"


def _flip(column: str) -> str:
    return column[1:] if column.startswith("-") else "-" + column


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None


def _int(value, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value)))
    except (TypeError, ValueError):
        return default


def _multi(params, key: str) -> list[str]:
    """``?modality=CT&modality=MR`` and ``?modality=CT,MR`` both work."""
    values = params.getlist(key) if hasattr(params, "getlist") else [params.get(key, "")]
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in str(v or "").split(",") if x.strip()]
    return out


@dataclass
class WorklistFilter:
    modalities: list[str] = field(default_factory=list)
    body_parts: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    mine: bool = False
    unread: bool = False
    q: str = ""
    worklist_id: int | None = None
    sort: str = DEFAULT_SORT
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def from_params(cls, params) -> WorklistFilter:
        sort = (params.get("sort") or DEFAULT_SORT).strip()
        if sort.lstrip("-") not in SORTS:
            sort = DEFAULT_SORT
        worklist = params.get("worklist")
        return cls(
            modalities=[m.upper() for m in _multi(params, "modality")][:20],
            body_parts=[b.upper() for b in _multi(params, "body_part")][:20],
            statuses=[s for s in _multi(params, "status") if s in ReadingStatus.values],
            priorities=[p for p in _multi(params, "priority") if p in Priority.values],
            date_from=_parse_date(params.get("date_from", "")),
            date_to=_parse_date(params.get("date_to", "")),
            mine=params.get("mine") in ("1", "true", "on"),
            unread=params.get("unread") in ("1", "true", "on"),
            q=(params.get("q") or "").strip()[:100],
            worklist_id=int(worklist) if worklist and str(worklist).isdigit() else None,
            sort=sort,
            page=_int(params.get("page"), 1, 1, 1_000_000),
            page_size=_int(params.get("page_size"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        )

    def to_query(self) -> str:
        """The canonical query string (what the page's URL holds)."""
        pairs: list[tuple[str, str]] = []
        for key, values in (
            ("modality", self.modalities),
            ("body_part", self.body_parts),
            ("status", self.statuses),
            ("priority", self.priorities),
        ):
            if values:
                pairs.append((key, ",".join(values)))
        if self.date_from:
            pairs.append(("date_from", self.date_from.isoformat()))
        if self.date_to:
            pairs.append(("date_to", self.date_to.isoformat()))
        if self.mine:
            pairs.append(("mine", "1"))
        if self.unread:
            pairs.append(("unread", "1"))
        if self.q:
            pairs.append(("q", self.q))
        if self.worklist_id:
            pairs.append(("worklist", str(self.worklist_id)))
        if self.sort != DEFAULT_SORT:
            pairs.append(("sort", self.sort))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        if self.page_size != DEFAULT_PAGE_SIZE:
            pairs.append(("page_size", str(self.page_size)))
        return urlencode(pairs)


def modality_q(modality: str, field: str = "modality") -> Q:
    """Modalities in Study (0008,0061) is stored backslash-joined: match one value of it."""
    sep = "\\"
    return (
        Q(**{field: modality})
        | Q(**{f"{field}__startswith": modality + sep})
        | Q(**{f"{field}__endswith": sep + modality})
        | Q(**{f"{field}__contains": sep + modality + sep})
    )


def any_of(qs: list[Q]) -> Q:
    combined = Q()
    for q in qs:
        combined |= q
    return combined


def _local_midnight(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min), timezone.get_default_timezone())


def worklists_for_user(user) -> QuerySet[Worklist]:
    """The named worklists ``user`` belongs to (directly or through a group); admins see all."""
    qs = Worklist.objects.filter(is_active=True)
    if is_department_admin(user):
        return qs
    return qs.filter(Q(members=user) | Q(groups__user=user)).distinct()


def worklist_rule_q(worklist: Worklist) -> Q:
    """A named worklist's rule as a condition on ReadingItem."""
    q = Q()
    if worklist.modality_list:
        q &= any_of([modality_q(m) for m in worklist.modality_list])
    if worklist.body_part_list:
        q &= Q(body_part__in=worklist.body_part_list)
    if worklist.priority_list:
        q &= Q(priority__in=worklist.priority_list)
    if worklist.referring_location:
        q &= Q(study__institution_name__icontains=worklist.referring_location)
    return q


def filtered_items(user, f: WorklistFilter) -> QuerySet[ReadingItem]:
    """The user's reading items that match ``f`` (unordered, not sliced)."""
    qs = ReadingItem.objects.filter(study_filter_for_user(user, "study__"))
    if f.worklist_id:
        worklist = worklists_for_user(user).filter(pk=f.worklist_id).first()
        if worklist is None:
            return qs.none()
        qs = qs.filter(worklist_rule_q(worklist))
    if f.modalities:
        qs = qs.filter(any_of([modality_q(m) for m in f.modalities]))
    if f.body_parts:
        qs = qs.filter(body_part__in=f.body_parts)
    statuses = list(f.statuses)
    if f.unread:
        statuses = [ReadingStatus.UNREAD] if not statuses or "unread" in statuses else ["-"]
    if statuses:
        qs = qs.filter(reading_status__in=statuses)
    if f.priorities:
        # On the rank: it leads the default sort index, so this is an index range.
        qs = qs.filter(priority_rank__in=[PRIORITY_RANK[Priority(p)] for p in f.priorities])
    if f.date_from:
        qs = qs.filter(study_datetime__gte=_local_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(study_datetime__lt=_local_midnight(f.date_to + timedelta(days=1)))
    if f.mine:
        qs = qs.filter(Q(assigned_to=user) | Q(claimed_by=user))
    if f.q:
        qs = qs.filter(search_text__contains=f.q.replace("^", " ").lower())
    return qs


def ordering(f: WorklistFilter, *, sparse: bool = False) -> list:
    """ORDER BY for ``f.sort``, with the primary key as tie-break.

    ``sparse``: wrap the columns in an expression so the database filters first
    and sorts the few matches, instead of walking the sort index.
    """
    columns = SORTS[f.sort.lstrip("-")]
    if f.sort.startswith("-"):
        columns = tuple(_flip(c) for c in columns)
    out: list = []
    for column in (*columns, "-pk" if f.sort.startswith("-") else "pk"):
        desc = column.startswith("-")
        name = column.lstrip("-")
        if not sparse:
            out.append(column)
            continue
        expr = Coalesce(F(name), F(name))
        out.append(expr.desc() if desc else expr.asc())
    return out


def open_critical_q():
    """Whether the study's report has a critical result nobody acknowledged yet (a
    correlated EXISTS on an indexed column: still one query per page)."""
    from reading.reports.models import CriticalResult

    return Exists(
        CriticalResult.objects.filter(
            report__study_id=OuterRef("study_id"), acknowledged_at__isnull=True
        )
    )


def with_rows(qs: QuerySet[ReadingItem]) -> QuerySet[ReadingItem]:
    """Join in everything a row shows, so a page is one query."""
    return qs.select_related("study", "study__patient", "claimed_by", "assigned_to").annotate(
        critical_open=open_critical_q()
    )


@dataclass
class WorklistPage:
    count: int
    page: int
    page_size: int
    items: list[ReadingItem]

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.page_size))


def worklist_page(user, f: WorklistFilter) -> WorklistPage:
    """Two queries: COUNT, then the page."""
    qs = filtered_items(user, f)
    count = qs.count()
    pages = max(1, -(-count // f.page_size))
    page = min(f.page, pages)
    start = (page - 1) * f.page_size
    if not count:
        return WorklistPage(count=0, page=1, page_size=f.page_size, items=[])
    # Pick the page's keys on ReadingItem alone, then join the row data for those only.
    keys = qs.order_by(*ordering(f, sparse=count <= SPARSE_MATCHES)).values("pk")[
        start : start + f.page_size
    ]
    items = list(with_rows(ReadingItem.objects.filter(pk__in=keys)).order_by(*ordering(f)))
    return WorklistPage(count=count, page=page, page_size=f.page_size, items=items)


def rows_for_events(study_ids: list[int]) -> list[tuple[int, dict]]:
    """(version, row) for each study, for event payloads; one query.

    Events go to the ``worklist`` group, which only readers join (the consumer
    checks), so the rows are not filtered per user here.
    """
    from reading.worklist.serializers import WorklistRowSerializer

    items = with_rows(ReadingItem.objects.filter(pk__in=study_ids))
    return [(item.version, WorklistRowSerializer(item).data) for item in items]
