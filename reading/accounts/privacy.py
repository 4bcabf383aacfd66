"""What a department admin (no clinical role) may see of patients in the Django admin.

Admins manage people, worklists and storage; they read no images and, as the
docs say, see no patient names or birth dates. ``PatientIdentityHidden`` is
mixed into the ``ModelAdmin`` of every model that shows them: for a user
without a clinical role the identifying fields leave the list, the search and
the form, a patient is shown by its ID only, and the Patient pages are gone.
"""

from __future__ import annotations

from reading.accounts.access import is_clinical

IDENTITY_FIELDS = ("patient_name", "patient_birth_date", "patient")


def sees_patient_identity(user) -> bool:
    return is_clinical(user)


class PatientIdentityHidden:
    identity_fields = IDENTITY_FIELDS
    # True for a model that is nothing but identity (Patient): no page at all for admins.
    hidden_entirely = False

    def _hidden(self, request) -> bool:
        return not sees_patient_identity(request.user)

    def has_module_permission(self, request):
        if self.hidden_entirely and self._hidden(request):
            return False
        return super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        if self.hidden_entirely and self._hidden(request):
            return False
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if self.hidden_entirely and self._hidden(request):
            return False
        return super().has_change_permission(request, obj)

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        if not self._hidden(request):
            return fields
        shown = [f for f in fields if f not in self.identity_fields]
        return shown if "patient" not in fields else [*shown, "patient_ref"]

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if not self._hidden(request):
            return fields
        return [f for f in fields if not any(part in f for part in ("patient_name", "birth"))]

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or [])
        if self._hidden(request):
            excluded += [f for f in self.identity_fields if f not in excluded]
        return excluded

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if not self._hidden(request):
            return fields
        return [f for f in fields if f not in self.identity_fields]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not self._hidden(request):
            return fields
        return [f for f in fields if f not in self.identity_fields]

    def get_list_filter(self, request):
        fields = super().get_list_filter(request)
        if not self._hidden(request):
            return fields
        return [f for f in fields if f not in self.identity_fields]

    @staticmethod
    def patient_ref(obj) -> str:
        patient = getattr(obj, "patient", None)
        return getattr(patient, "patient_id", "") or ""

    patient_ref.short_description = "Patient ID"
