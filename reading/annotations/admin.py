from django.contrib import admin

from reading.annotations.models import Annotation


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "tool", "label", "source", "review_state", "author", "created_at")
    list_filter = ("tool", "source", "review_state")
    search_fields = ("sop_instance_uid", "label")
    raw_id_fields = ("study", "author", "reviewed_by", "updated_by")
