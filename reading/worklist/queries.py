"""The worklist query layer: filters, sort and pagination in a bounded number of queries.

Every list is two SQL queries whatever the page size: a COUNT and the page itself,
with patient, reading state and the people on it joined in. Studies come from
``reading.studies.access.studies_for_user`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone

from reading.studies.access import studies_for_user
from reading.studies.models import Study
from reading.worklist.models import Priority, ReadingStatus, Worklist

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# Sort keys (the URL's ``sort``; a leading "-" reverses) -> ORDER BY columns.
SORTS: dict[str, tuple[str, ...]] = {
    "priority": ("reading__priority_rank", "-reading__study_datetime"),
    "patient": ("patient__patient_name",),
    "mrn": ("patient__patient_id",),
    "age": ("-patient__patient_birth_date",),
    "sex": ("patient__patient_sex",),
    "accession": ("accession_number",),
    "modality": ("modalities_in_study",),
    "body_part": ("body_part_examined",),
    "description": ("study_description",),
    "date": ("reading__study_datetime",),
    "images": ("number_of_study_related_instances",),
    "status": ("reading__reading_status",),
    "assigned": ("reading__assigned_to__username",),
    "ai": ("reading__ai_status",),
    "report": ("reading__report_status",),
}
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


def modality_q(modality: str) -> Q:
    """Modalities in Study (0008,0061) is stored backslash-joined: match one value of it."""
    sep = "\\"
    return (
        Q(modalities_in_study=modality)
        | Q(modalities_in_study__startswith=modality + sep)
        | Q(modalities_in_study__endswith=sep + modality)
        | Q(modalities_in_study__contains=sep + modality + sep)
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
    if getattr(user, "is_department_admin", False):
        return qs
    return qs.filter(Q(members=user) | Q(groups__user=user)).distinct()


def worklist_rule_q(worklist: Worklist) -> Q:
    q = Q()
    if worklist.modality_list:
        q &= any_of([modality_q(m) for m in worklist.modality_list])
    if worklist.body_part_list:
        q &= Q(body_part_examined__in=worklist.body_part_list)
    if worklist.priority_list:
        q &= Q(reading__priority__in=worklist.priority_list)
    if worklist.referring_location:
        q &= Q(institution_name__icontains=worklist.referring_location)
    return q


def filtered_studies(user, f: WorklistFilter) -> QuerySet[Study]:
    """The user's studies that match ``f``, in ``f``'s order (not yet sliced)."""
    qs = studies_for_user(user).filter(reading__isnull=False)
    if f.worklist_id:
        worklist = worklists_for_user(user).filter(pk=f.worklist_id).first()
        if worklist is None:
            return qs.none()
        qs = qs.filter(worklist_rule_q(worklist))
    if f.modalities:
        qs = qs.filter(any_of([modality_q(m) for m in f.modalities]))
    if f.body_parts:
        qs = qs.filter(body_part_examined__in=f.body_parts)
    statuses = list(f.statuses)
    if f.unread:
        statuses = [ReadingStatus.UNREAD] if not statuses or "unread" in statuses else ["-"]
    if statuses:
        qs = qs.filter(reading__reading_status__in=statuses)
    if f.priorities:
        qs = qs.filter(reading__priority__in=f.priorities)
    if f.date_from:
        qs = qs.filter(reading__study_datetime__gte=_local_midnight(f.date_from))
    if f.date_to:
        qs = qs.filter(reading__study_datetime__lt=_local_midnight(f.date_to + timedelta(days=1)))
    if f.mine:
        qs = qs.filter(Q(reading__assigned_to=user) | Q(reading__claimed_by=user))
    if f.q:
        needle = f.q.replace("^", " ").lower()
        qs = qs.filter(reading__search_text__contains=needle)
    columns = SORTS[f.sort.lstrip("-")]
    if f.sort.startswith("-"):
        columns = tuple(_flip(c) for c in columns)
    tiebreak = "-pk" if f.sort.startswith("-") else "pk"
    return qs.order_by(*columns, tiebreak)


def with_rows(qs: QuerySet[Study]) -> QuerySet[Study]:
    """Join in everything a row shows, so a page is one query."""
    return qs.select_related("patient", "reading", "reading__claimed_by", "reading__assigned_to")


@dataclass
class WorklistPage:
    count: int
    page: int
    page_size: int
    studies: list[Study]

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.page_size))


def worklist_page(user, f: WorklistFilter) -> WorklistPage:
    """Two queries: COUNT, then the page."""
    qs = filtered_studies(user, f)
    count = qs.count()
    pages = max(1, -(-count // f.page_size))
    page = min(f.page, pages)
    start = (page - 1) * f.page_size
    studies = list(with_rows(qs)[start : start + f.page_size])
    return WorklistPage(count=count, page=page, page_size=f.page_size, studies=studies)


def rows_for_events(study_ids: list[int]) -> list[tuple[int, dict]]:
    """(version, row) for each study, for event payloads; one query."""
    from reading.worklist.serializers import WorklistRowSerializer

    studies = with_rows(Study.objects.filter(pk__in=study_ids, reading__isnull=False))
    return [(s.reading.version, WorklistRowSerializer(s).data) for s in studies]
