from __future__ import annotations

from datetime import date, time

import pytest
from django.http import QueryDict

from reading.worklist import assignment, claims, lists, queries
from reading.worklist.models import Priority, Worklist


def uids(user, query: str) -> list[str]:
    f = queries.WorklistFilter.from_params(QueryDict(query))
    return [i.accession_number for i in queries.worklist_page(user, f).items]


@pytest.fixture
def cast(make_study):
    return {
        "ct_stat": make_study(
            accession="A1",
            modality="CT",
            priority=Priority.STAT,
            patient_name="Alpha^Ann",
            study_date=date(2026, 11, 18),
            body_part="HEAD",
        ),
        "mr": make_study(
            accession="A2",
            modality="MR",
            patient_name="Bravo^Bob",
            study_date=date(2026, 11, 20),
            body_part="BRAIN",
            institution="ER Annex",
        ),
        "ct_pt": make_study(
            accession="A3",
            modality="CT\\PT",
            priority=Priority.URGENT,
            patient_name="Charlie^Cy",
            study_date=date(2026, 11, 21),
        ),
        "cr": make_study(
            accession="A4",
            modality="CR",
            patient_name="Delta^Di",
            study_date=date(2026, 11, 22),
            study_time=time(8, 30),
        ),
    }


def test_default_sort_is_stat_first_then_newest(cast, attending):
    assert uids(attending, "") == ["A1", "A3", "A4", "A2"]


def test_filters(cast, attending, resident):
    assert uids(attending, "modality=CT") == ["A1", "A3"]
    assert uids(attending, "modality=PT") == ["A3"]
    assert uids(attending, "modality=CT,MR") == ["A1", "A3", "A2"]
    assert uids(attending, "priority=urgent") == ["A3"]
    assert uids(attending, "date_from=2026-11-20&date_to=2026-11-21&sort=date") == ["A2", "A3"]
    assert uids(attending, "q=bravo") == ["A2"]
    assert uids(attending, "q=A4") == ["A4"]
    assert uids(attending, "q=" + cast["cr"].patient.patient_id.lower()) == ["A4"]
    assert uids(attending, "body_part=brain") == ["A2"]
    claims.claim_study(resident, cast["mr"])
    assert uids(attending, "unread=1") == ["A1", "A3", "A4"]
    assert uids(attending, "status=in_progress") == ["A2"]
    assert uids(resident, "mine=1") == ["A2"]
    assert uids(attending, "mine=1") == []


def test_sort_by_any_column(cast, attending):
    assert uids(attending, "sort=patient") == ["A1", "A2", "A3", "A4"]
    assert uids(attending, "sort=-patient") == ["A4", "A3", "A2", "A1"]
    assert uids(attending, "sort=-date") == ["A4", "A3", "A2", "A1"]
    assert uids(attending, "sort=modality") == ["A4", "A1", "A3", "A2"]
    for key in queries.SORTS:
        for sort in (key, "-" + key):
            assert sorted(uids(attending, f"sort={sort}")) == ["A1", "A2", "A3", "A4"]


def test_pagination_and_canonical_query(cast, attending):
    f = queries.WorklistFilter.from_params(QueryDict("page_size=3&page=2&modality=ct&junk=1"))
    page = queries.worklist_page(attending, f)
    assert page.count == 2 and page.page == 1  # clamped to the last page
    f = queries.WorklistFilter.from_params(QueryDict("page_size=3&page=2"))
    page = queries.worklist_page(attending, f)
    assert (page.count, page.num_pages, [i.accession_number for i in page.items]) == (
        4,
        2,
        ["A2"],
    )
    assert f.to_query() == "page=2&page_size=3"


def test_department_worklist_rule_and_membership(cast, attending, resident, admin_user):
    er = lists.save_department_worklist(
        admin_user,
        None,
        name="ER",
        modalities="MR,CR",
        referring_location="er annex",
        members=[resident],
    )
    assert list(queries.worklists_for_user(resident)) == [er]
    assert list(queries.worklists_for_user(attending)) == []
    assert uids(resident, f"worklist={er.pk}") == ["A2"]
    # Not a member: the named worklist filter gives nothing (the plain worklist still works).
    assert uids(attending, f"worklist={er.pk}") == []
    neuro = Worklist.objects.create(name="Neuro", body_parts="HEAD, BRAIN", priorities="stat")
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="neuro readers")
    attending.groups.add(group)
    neuro.groups.add(group)
    assert list(queries.worklists_for_user(attending)) == [neuro]
    assert uids(attending, f"worklist={neuro.pk}") == ["A1"]


@pytest.mark.parametrize("page_size", [5, 200])
def test_query_count_is_bounded(
    make_study, attending, resident, admin_user, page_size, django_assert_max_num_queries
):
    for i in range(30):
        study = make_study(priority=Priority.STAT if i % 3 == 0 else Priority.ROUTINE)
        if i % 2:
            claims.claim_study(resident if i % 4 == 1 else attending, study)
        if i % 5 == 0:
            assignment.assign_studies(admin_user, [study.pk], resident)
    f = queries.WorklistFilter.from_params(QueryDict(f"page_size={page_size}&q=mrn"))
    from reading.worklist.serializers import WorklistRowSerializer

    with django_assert_max_num_queries(2):
        page = queries.worklist_page(attending, f)
        rows = WorklistRowSerializer(page.items, many=True).data
    assert len(rows) == min(30, page_size)
    assert any(r["claimed_by"] for r in rows) and any(r["assigned_to"] for r in rows)


def test_sparse_and_dense_plans_give_the_same_order(cast, make_study, attending, monkeypatch):
    for i in range(6):
        make_study(accession=f"B{i}", patient_name="Alpha^Ann")  # ties on several columns
    for key in queries.SORTS:
        for sort in (key, "-" + key):
            monkeypatch.setattr(queries, "SPARSE_MATCHES", 0)
            dense = uids(attending, f"sort={sort}")
            monkeypatch.setattr(queries, "SPARSE_MATCHES", 10**9)
            sparse = uids(attending, f"sort={sort}")
            assert dense == sparse, sort


def test_access_filter_agrees_with_studies_for_user(cast, attending, outsider):
    from django.core.exceptions import PermissionDenied

    from reading.studies.access import studies_for_user, study_filter_for_user
    from reading.worklist.models import ReadingItem

    via_items = set(
        ReadingItem.objects.filter(study_filter_for_user(attending, "study__")).values_list(
            "pk", flat=True
        )
    )
    assert via_items == set(studies_for_user(attending).values_list("pk", flat=True))
    with pytest.raises(PermissionDenied):
        study_filter_for_user(outsider, "study__")
    with pytest.raises(PermissionDenied):
        queries.worklist_page(outsider, queries.WorklistFilter())


def test_new_series_updates_the_rows_copies(db, attending, django_capture_on_commit_callbacks):
    from reading.studies.services import ingest_instance
    from reading.worklist.models import ReadingItem
    from tests.dicom_factory import make_dataset, to_bytes

    ct = make_dataset(modality="CT", accession="SYNC1")
    with django_capture_on_commit_callbacks(execute=True):
        ingest_instance(to_bytes(ct))
        ingest_instance(to_bytes(make_dataset(study_uid=ct.StudyInstanceUID, modality="PT")))
    item = ReadingItem.objects.get(study__study_instance_uid=ct.StudyInstanceUID)
    assert item.modality == "CT\\PT" and item.accession_number == "SYNC1"
    assert uids(attending, "modality=PT") == ["SYNC1"]
