from django.contrib import admin

from reading.accounts.privacy import PatientIdentityHidden
from reading.studies.models import Instance, Patient, Series, Study


@admin.register(Patient)
class PatientAdmin(PatientIdentityHidden, admin.ModelAdmin):
    hidden_entirely = True
    list_display = ("patient_name", "patient_id", "patient_birth_date", "patient_sex")
    search_fields = ("patient_name", "patient_id")


@admin.register(Study)
class StudyAdmin(PatientIdentityHidden, admin.ModelAdmin):
    list_display = (
        "accession_number",
        "patient",
        "study_date",
        "modalities_in_study",
        "study_description",
        "number_of_study_related_instances",
    )
    list_filter = ("modalities_in_study", "study_date")
    search_fields = (
        "accession_number",
        "study_instance_uid",
        "patient__patient_name",
        "patient__patient_id",
    )
    list_select_related = ("patient",)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = (
        "series_description",
        "modality",
        "series_number",
        "study",
        "number_of_series_related_instances",
    )
    list_filter = ("modality",)
    search_fields = ("series_instance_uid", "series_description")
    list_select_related = ("study",)


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = (
        "sop_instance_uid",
        "instance_number",
        "series",
        "transfer_syntax_uid",
        "rows",
        "columns",
    )
    search_fields = ("sop_instance_uid",)
    list_select_related = ("series",)
    exclude = ("metadata",)
