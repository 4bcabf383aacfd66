from django.dispatch import Signal

# Sent inside the transaction that changes an annotation, so what a receiver writes
# commits (or rolls back) with the change. Keyword arguments are ids, not objects:
# receivers read the row as written: annotation_id (UUID), study_id, action
# ("created", "updated", "deleted", "reviewed"), actor_id (the user's pk, or None for
# a background job such as an AI finding). A domain signal between apps, not a broadcast:
# a receiver that tells clients does so through ``reading.realtime.send_on_commit``.
annotation_changed = Signal()
