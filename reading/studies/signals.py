from django.dispatch import Signal

# Sent after commit when an instance is stored: kwargs study_id, created_study.
# A domain signal (studies -> worklist, ai), not a broadcast: a receiver that tells
# clients does so through ``reading.realtime.send_on_commit``.
instance_stored = Signal()
