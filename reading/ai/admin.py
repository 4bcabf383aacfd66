from django.contrib import admin

from reading.ai.models import AIJob, AIReview


@admin.register(AIJob)
class AIJobAdmin(admin.ModelAdmin):
    list_display = ("id", "task", "status", "study", "attempts", "device", "created_at")
    list_filter = ("status", "task", "random_weights")
    readonly_fields = [f.name for f in AIJob._meta.fields]


@admin.register(AIReview)
class AIReviewAdmin(admin.ModelAdmin):
    list_display = ("annotation", "reviewer", "decision", "kind", "created_at")
    readonly_fields = [f.name for f in AIReview._meta.fields]
