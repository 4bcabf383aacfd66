"""Seed report templates (IHE MRRT / RSNA RadReport spirit) and department macros."""

from django.db import migrations

from reading.reports.defaults import install_defaults


def seed(apps, schema_editor):
    install_defaults(
        apps.get_model("reports", "ReportTemplate"), apps.get_model("reports", "Macro")
    )


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_signoff_templates_versions_critical")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
