from django import forms

from reading.reports import text as report_text
from reading.reports.models import ReportTemplate


class TemplateForm(forms.ModelForm):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "class": "mono"}),
        help_text="Headings in capitals with a colon on their own line; fields «a|b» "
        "(pick list), «___» (blank), «__ mm» (number with unit).",
    )

    class Meta:
        model = ReportTemplate
        fields = ["name", "slug", "modalities", "body_parts", "keywords", "is_generic", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["text"] = report_text.render_template(self.instance.sections)
