from django.dispatch import Signal

# Sent after commit when an instance is stored: kwargs study_id, created_study.
instance_stored = Signal()
