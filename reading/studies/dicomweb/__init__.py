"""DICOMweb (PS3.18): QIDO-RS search, WADO-RS retrieval, STOW-RS storage.

Every view fetches studies through ``reading.studies.access`` and writes an
audit record; writes go through ``reading.studies.services.ingest_instance``.
"""
