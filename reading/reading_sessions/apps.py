from django.apps import AppConfig


class ReadingSessionsConfig(AppConfig):
    name = "reading.reading_sessions"
    # Not "sessions": that label belongs to django.contrib.sessions.
    label = "reading_sessions"
    verbose_name = "Live reading sessions"

    def ready(self) -> None:
        from reading.reading_sessions import receivers  # noqa: F401
