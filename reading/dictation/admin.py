from django.contrib import admin

from reading.dictation.models import DictationStream, Segment, Utterance


@admin.register(DictationStream)
class DictationStreamAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "study", "session", "last_seq", "finals", "updated_at")
    raw_id_fields = ("user", "study", "session", "open_utterance")


@admin.register(Utterance)
class UtteranceAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "study", "samples", "started_at", "ended_at", "audio")
    raw_id_fields = ("stream", "user", "study", "session")


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("utterance", "n", "segment", "text", "decoder", "random_weights")
    raw_id_fields = ("utterance",)
