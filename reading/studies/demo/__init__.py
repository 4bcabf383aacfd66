"""Synthetic demo studies: a chest CT with its prior, a chest radiograph, a brain MR
and pydicom's sample files, stored through ``ingest_instance``.

Phantom anatomy (``chest``, ``brain``, ``radiograph``) is pure numpy and knows
nothing of DICOM; ``writers`` and ``samples`` make the Part 10 files;
``catalogue`` says which studies exist and builds their files on demand;
``seed`` stores them. Only ``seed`` needs Django, so it is imported lazily.
"""

from __future__ import annotations

from reading.studies.demo.catalogue import DemoScale, demo_studies

__all__ = ["DemoScale", "demo_studies", "seed_demo_studies"]


def seed_demo_studies(stdout=None, *, scale: DemoScale | None = None):
    """See :func:`reading.studies.demo.seed.seed_demo_studies`."""
    from reading.studies.demo.seed import seed_demo_studies as seed

    return seed(stdout, scale=scale)
