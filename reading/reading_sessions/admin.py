from django.contrib import admin

from reading.reading_sessions.models import ChatMessage, Participant, ReadingSession, SessionEvent


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    raw_id_fields = ("user",)


@admin.register(ReadingSession)
class ReadingSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "study", "host", "presenter", "status", "last_seq", "created_at")
    list_filter = ("status",)
    raw_id_fields = ("study", "host", "presenter")
    inlines = [ParticipantInline]


@admin.register(SessionEvent)
class SessionEventAdmin(admin.ModelAdmin):
    list_display = ("session", "seq", "type", "actor", "created_at")
    list_filter = ("type",)
    raw_id_fields = ("session", "actor")


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("study", "author", "created_at")
    raw_id_fields = ("study", "session", "author")
