"""Store the demo studies through the one ingest path, skipping what is already there."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from reading.studies.demo.catalogue import DemoScale, DemoStudy, demo_studies
from reading.studies.models import Instance
from reading.studies.services import IngestStatus, ingest_instance


class DemoSeedError(RuntimeError):
    """A demo instance was refused by ingest; the message lists which and why."""


@dataclass
class StudySeedResult:
    label: str
    study_instance_uid: str
    instances: int
    stored: int = 0
    present: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _already_stored(study: DemoStudy) -> set[str]:
    uids = [inst.sop_instance_uid for inst in study.instances]
    return set(Instance.objects.filter(sop_instance_uid__in=uids).values_list(
        "sop_instance_uid", flat=True))  # fmt: skip


def seed_study(study: DemoStudy) -> StudySeedResult:
    """Build and ingest the instances of ``study`` that are not stored yet."""
    started = time.perf_counter()
    result = StudySeedResult(study.label, study.info.study_uid, len(study.instances))
    present = _already_stored(study)
    result.present = len(present)
    for inst in study.instances:
        if inst.sop_instance_uid in present:
            continue
        outcome = ingest_instance(inst.build(), name=inst.name)
        if outcome.status == IngestStatus.STORED:
            result.stored += 1
        elif outcome.status == IngestStatus.DUPLICATE:
            result.present += 1
        else:
            result.failures.append(f"{inst.name}: {outcome.status}: {outcome.reason}")
    result.seconds = time.perf_counter() - started
    return result


def _line(r: StudySeedResult) -> str:
    if r.stored == 0 and not r.failures:
        return f"  {r.label}: already present ({r.present} instance{'s' * (r.present != 1)})"
    text = f"  {r.label}: {r.stored} stored"
    if r.present:
        text += f", {r.present} already present"
    if r.failures:
        text += f", {len(r.failures)} FAILED"
    return f"{text} in {r.seconds:.1f} s"


def seed_demo_studies(stdout=None, *, scale: DemoScale | None = None) -> list[StudySeedResult]:
    """Create the synthetic demo studies (idempotent: a second run stores nothing).

    Prints one progress line per study and the total time to ``stdout``.
    Raises :class:`DemoSeedError` after the run if ingest refused any instance.
    """

    def say(text: str) -> None:
        if stdout is not None:
            stdout.write(text + "\n")

    started = time.perf_counter()
    say("Demo studies:")
    results = []
    for study in demo_studies(scale):
        result = seed_study(study)
        results.append(result)
        say(_line(result))
    stored = sum(r.stored for r in results)
    total = sum(r.instances for r in results)
    say(f"  {stored} of {total} demo instances stored in {time.perf_counter() - started:.1f} s")
    failures = [f for r in results for f in r.failures]
    if failures:
        raise DemoSeedError("demo instances refused by ingest:\n" + "\n".join(failures))
    return results
