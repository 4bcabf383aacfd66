"""Django admin for the reading state. Changes go through the services (actions),
so priorities keep their sort rank and every open worklist hears of them."""

from django.contrib import admin
from django.db.models import Count

from reading.worklist import assignment, claims
from reading.worklist.models import Priority, ReadingItem, SavedWorklist, Worklist


def _priority_action(priority: str):
    def action(modeladmin, request, queryset):
        n = assignment.set_priority(
            request.user, list(queryset.values_list("pk", flat=True)), priority
        )
        modeladmin.message_user(request, f"{n} studies set to {Priority(priority).label}.")

    action.__name__ = f"set_{priority}"
    action.short_description = f"Set priority: {Priority(priority).label}"
    return action


@admin.register(ReadingItem)
class ReadingItemAdmin(admin.ModelAdmin):
    list_display = (
        "study",
        "priority",
        "reading_status",
        "claimed_by",
        "claimed_at",
        "assigned_to",
        "ai_status",
        "report_status",
        "study_datetime",
    )
    list_filter = ("priority", "reading_status", "ai_status", "report_status")
    search_fields = ("search_text", "study__study_instance_uid", "study__accession_number")
    list_select_related = ("study", "claimed_by", "assigned_to")
    date_hierarchy = "study_datetime"
    actions = [*(_priority_action(p) for p in Priority.values), "break_claims"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: workflow changes go through the actions and the app

    @admin.action(description="Break claims")
    def break_claims(self, request, queryset):
        for item in queryset.select_related("study"):
            claims.break_claim(request.user, item.study)
        self.message_user(request, "Claims broken.")


@admin.register(Worklist)
class WorklistAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "modalities",
        "body_parts",
        "priorities",
        "referring_location",
        "member_count",
        "is_active",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "description")
    filter_horizontal = ("members", "groups")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_members=Count("members", distinct=True))

    @admin.display(description="Members", ordering="n_members")
    def member_count(self, obj):
        return obj.n_members


@admin.register(SavedWorklist)
class SavedWorklistAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "query", "created_at")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
