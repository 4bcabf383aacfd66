"""The archive on the scale-out setup: PostgreSQL + Redis, real connections."""

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from reading.studies import storage
from reading.studies.models import Instance, Study
from reading.studies.services import IngestStatus, ingest_instance, ingest_instances
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = [pytest.mark.scaleout]


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingest_of_one_study_on_postgresql():
    assert connection.vendor == "postgresql"
    series = [to_bytes(ds) for ds in make_ct_series(12)]
    results = []

    def worker(chunk):
        try:
            results.extend(ingest_instance(raw) for raw in chunk)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(series[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == [IngestStatus.STORED] * 12
    study = Study.objects.get()
    assert study.number_of_study_related_instances == 12
    assert study.number_of_study_related_series == 1


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_at_once_store_each_instance_once():
    """Four STOW-RS-sized batches of the same study at once, each holding instances the
    others hold too: each instance stored once, the others' copies duplicates."""
    series = [to_bytes(ds) for ds in make_ct_series(12)]
    barrier = threading.Barrier(4)
    results = []

    def worker(offset):
        barrier.wait()
        try:
            results.extend(ingest_instances([("", raw) for raw in series[offset : offset + 6]]))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in (0, 3, 6, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [r.status for r in results]
    assert statuses.count(IngestStatus.STORED) == 12, statuses
    assert statuses.count(IngestStatus.DUPLICATE) == 12, statuses
    study = Study.objects.get()
    assert study.number_of_study_related_instances == 12
    assert Instance.objects.count() == 12
    assert all(storage.absolute(i.file_path).is_file() for i in Instance.objects.all())


@pytest.mark.django_db(transaction=True)
def test_same_instance_sent_twice_at_once_stores_one():
    raw = to_bytes(make_dataset())
    barrier = threading.Barrier(4)
    results = []

    def worker():
        barrier.wait()
        try:
            results.append(ingest_instance(raw).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count(IngestStatus.STORED) == 1
    assert sorted(results).count(IngestStatus.DUPLICATE) == 3
    assert Instance.objects.count() == 1


def test_channel_layer_is_redis_and_delivers():
    layer = get_channel_layer()
    assert type(layer).__name__ in ("RedisPubSubChannelLayer", "RedisChannelLayer")

    async def roundtrip():
        channel = await layer.new_channel()
        await layer.group_add("scaleout-test", channel)
        await layer.group_send("scaleout-test", {"type": "ping", "n": 1})
        message = await layer.receive(channel)
        await layer.group_discard("scaleout-test", channel)
        return message

    assert async_to_sync(roundtrip)() == {"type": "ping", "n": 1}
