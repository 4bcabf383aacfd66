from django import forms
from django.contrib.auth.models import Group

from reading.accounts.models import Role, User
from reading.worklist.models import Priority, Worklist


class WorklistForm(forms.ModelForm):
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(
            is_active=True, role__in=[Role.ATTENDING, Role.RESIDENT]
        ).order_by("username"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Worklist
        fields = [
            "name",
            "description",
            "modalities",
            "body_parts",
            "priorities",
            "referring_location",
            "is_active",
        ]

    def clean_priorities(self):
        values = [
            p.strip().lower() for p in self.cleaned_data["priorities"].split(",") if p.strip()
        ]
        bad = [p for p in values if p not in Priority.values]
        if bad:
            raise forms.ValidationError(f"Unknown priorities: {', '.join(bad)}")
        return ",".join(values)
