"""Give every study stored before the worklist existed its reading row."""

from datetime import datetime

from django.db import migrations
from django.utils import timezone


def backfill(apps, schema_editor):
    Study = apps.get_model("studies", "Study")
    ReadingItem = apps.get_model("worklist", "ReadingItem")
    tz = timezone.get_default_timezone()
    batch = []
    for study in Study.objects.filter(reading__isnull=True).select_related("patient").iterator():
        if study.study_date:
            dt = timezone.make_aware(
                datetime.combine(study.study_date, study.study_time or datetime.min.time()), tz
            )
        else:
            dt = study.received_at
        p = study.patient
        parts = [p.patient_name.replace("^", " "), p.patient_id, study.accession_number]
        text = " | ".join(x for x in parts if x).lower()[:512]
        batch.append(ReadingItem(study=study, study_datetime=dt, search_text=text))
        if len(batch) >= 1000:
            ReadingItem.objects.bulk_create(batch)
            batch = []
    ReadingItem.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("worklist", "0001_initial"), ("studies", "0001_initial")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
