from django.dispatch import Signal

# Sent after commit whenever an annotation changes. Keyword arguments are ids, not
# objects, so receivers read the committed row: annotation_id (UUID), study_id, action
# ("created", "updated", "deleted", "reviewed"), actor_id (the user's pk, or None for
# a background job such as an AI finding). A domain signal between apps, not a broadcast:
# a receiver that tells clients does so through ``reading.realtime.send_on_commit``.
annotation_changed = Signal()
