"""The Huey tasks live with the Django app that owns the jobs: ``reading/ai/tasks.py``.

They take job ids, load the job, call the pure functions of this package
(``inference.preprocessing.prepare_series``, ``inference.medgemma.analyze``) and
save through ``reading.ai.services``; ``ModelNotInstalled`` is a permanent
error, not a retry. This package itself never imports Django.
"""
