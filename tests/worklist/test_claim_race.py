"""Two (or eight) readers claim the same study at the same moment: exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from reading.accounts.models import User
from reading.worklist import claims
from reading.worklist.models import ReadingItem
from tests.worklist.conftest import build_study

READERS = 8


def _race(study) -> list[bool]:
    readers = [
        User.objects.create_user(f"racer{i}", password="x", role="resident") for i in range(READERS)
    ]
    barrier = threading.Barrier(READERS)
    results: list[bool] = [False] * READERS
    errors: list[BaseException] = []

    def claim(i: int) -> None:
        try:
            barrier.wait()
            results[i] = claims.claim_study(readers[i], study).won
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    row = ReadingItem.objects.get(pk=study.pk)
    winner = [readers[i] for i, won in enumerate(results) if won]
    assert len(winner) == 1
    assert row.claimed_by_id == winner[0].pk
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_exactly_one_wins():
    for _ in range(3):
        study = build_study()
        _race(study)
        User.objects.filter(username__startswith="racer").delete()


@pytest.mark.scaleout
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_exactly_one_wins_on_postgresql():
    assert connection.vendor == "postgresql"
    for _ in range(3):
        study = build_study()
        _race(study)
        User.objects.filter(username__startswith="racer").delete()
