"""Huey tasks bridging the engines to ``reading/`` (a later issue).

Tasks will take ids, load their job, call the pure functions of this package
(``inference.medgemma.analyze``, ``inference.medasr.transcribe``) and save
through a service; ``ModelNotInstalled`` is a permanent error, not a retry.
"""
