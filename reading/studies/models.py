"""The archive: Patient / Study / Series / Instance (PS3.3 C.7 modules).

Field names are the snake_case DICOM keywords. The original bytes of each
instance stay on disk exactly as received; these rows index them.
"""

from django.db import models


class Patient(models.Model):
    """Patient module (PS3.3 C.7.1.1)."""

    patient_id = models.CharField(max_length=64, db_index=True)  # (0010,0020)
    issuer_of_patient_id = models.CharField(max_length=64, blank=True, default="")  # (0010,0021)
    patient_name = models.CharField(max_length=324, blank=True, db_index=True)  # (0010,0010)
    patient_birth_date = models.DateField(null=True, blank=True)  # (0010,0030)
    patient_sex = models.CharField(max_length=16, blank=True)  # (0010,0040)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient_id", "issuer_of_patient_id"], name="unique_patient_id_issuer"
            )
        ]
        ordering = ["patient_name"]

    def __str__(self) -> str:
        return f"{self.patient_name} ({self.patient_id})"


class Study(models.Model):
    """General Study module (PS3.3 C.7.2.1)."""

    study_instance_uid = models.CharField(max_length=64, unique=True)  # (0020,000D)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="studies")
    # The Patient module as this study's instances carry it: a later study of the same
    # Patient ID may spell the name differently (corrected, another character set), and
    # what is answered for a study (QIDO-RS, C-FIND) must be that study's own.
    patient_name = models.CharField(max_length=324, blank=True, db_index=True)  # (0010,0010)
    patient_birth_date = models.DateField(null=True, blank=True)  # (0010,0030)
    patient_sex = models.CharField(max_length=16, blank=True)  # (0010,0040)
    accession_number = models.CharField(max_length=64, blank=True, db_index=True)  # (0008,0050)
    study_id = models.CharField(max_length=64, blank=True)  # (0020,0010)
    study_date = models.DateField(null=True, blank=True, db_index=True)  # (0008,0020)
    study_time = models.TimeField(null=True, blank=True)  # (0008,0030)
    study_description = models.CharField(max_length=256, blank=True)  # (0008,1030)
    modalities_in_study = models.CharField(
        max_length=128, blank=True, db_index=True
    )  # (0008,0061), "\\"-joined
    body_part_examined = models.CharField(max_length=64, blank=True, db_index=True)  # (0018,0015)
    referring_physician_name = models.CharField(max_length=324, blank=True)  # (0008,0090)
    institution_name = models.CharField(max_length=128, blank=True)  # (0008,0080)
    number_of_study_related_series = models.PositiveIntegerField(default=0)  # (0020,1206)
    number_of_study_related_instances = models.PositiveIntegerField(default=0)  # (0020,1208)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-study_date", "-study_time"]
        verbose_name_plural = "studies"
        indexes = [models.Index(fields=["patient", "study_date"])]

    def __str__(self) -> str:
        return f"{self.accession_number or self.study_instance_uid} {self.study_description}"

    def display_patient_name(self) -> str:
        """This study's own Patient's Name (0010,0010) for people: components spaced."""
        return (self.patient_name or self.patient.patient_name).replace("^", " ").strip()

    def display_patient(self) -> dict:
        """The Patient module as this study carries it (name, ID, birth date, sex)."""
        return {
            "name": self.display_patient_name(),
            "id": self.patient.patient_id,
            "birth_date": self.patient_birth_date or self.patient.patient_birth_date,
            "sex": self.patient_sex or self.patient.patient_sex,
        }

    @property
    def modalities(self) -> list[str]:
        return [m for m in self.modalities_in_study.split("\\") if m]


class Series(models.Model):
    """General Series module (PS3.3 C.7.3.1)."""

    series_instance_uid = models.CharField(max_length=64, unique=True)  # (0020,000E)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    modality = models.CharField(max_length=16, db_index=True)  # (0008,0060)
    series_number = models.IntegerField(null=True, blank=True)  # (0020,0011)
    series_description = models.CharField(max_length=256, blank=True)  # (0008,103E)
    body_part_examined = models.CharField(max_length=64, blank=True)  # (0018,0015)
    series_date = models.DateField(null=True, blank=True)  # (0008,0021)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)  # (0020,0052)
    number_of_series_related_instances = models.PositiveIntegerField(default=0)  # (0020,1209)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series_number", "series_instance_uid"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.modality} #{self.series_number} {self.series_description}"


class Instance(models.Model):
    """One stored SOP instance (PS3.3 C.12.1 SOP Common, C.7.6 image modules)."""

    sop_instance_uid = models.CharField(max_length=64, unique=True)  # (0008,0018)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_class_uid = models.CharField(max_length=64)  # (0008,0016)
    instance_number = models.IntegerField(null=True, blank=True)  # (0020,0013)
    transfer_syntax_uid = models.CharField(max_length=64)  # (0002,0010)
    rows = models.PositiveIntegerField(null=True, blank=True)  # (0028,0010)
    columns = models.PositiveIntegerField(null=True, blank=True)  # (0028,0011)
    number_of_frames = models.PositiveIntegerField(default=1)  # (0028,0008)
    image_position_patient = models.JSONField(null=True, blank=True)  # (0020,0032)
    image_orientation_patient = models.JSONField(null=True, blank=True)  # (0020,0037)
    pixel_spacing = models.JSONField(null=True, blank=True)  # (0028,0030)
    slice_thickness = models.FloatField(null=True, blank=True)  # (0018,0050)
    slice_location = models.FloatField(null=True, blank=True)  # (0020,1041)
    photometric_interpretation = models.CharField(max_length=32, blank=True)  # (0028,0004)
    bits_allocated = models.PositiveSmallIntegerField(null=True, blank=True)  # (0028,0100)
    # Where the pixel data value starts in the stored file and how long it is,
    # so WADO-RS frames are served by seek + read without parsing the file.
    pixel_data_offset = models.BigIntegerField(null=True, blank=True)
    pixel_data_length = models.BigIntegerField(null=True, blank=True)
    # Per-frame (offset, length) within the file for encapsulated syntaxes.
    frame_offsets = models.JSONField(null=True, blank=True)
    # DICOM JSON (PS3.18 F.2) of everything but bulk data, for WADO-RS metadata and QIDO.
    metadata = models.JSONField(default=dict)
    file_path = models.CharField(max_length=512)  # relative to STORAGE_DIR
    file_size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instance_number", "sop_instance_uid"]
        indexes = [models.Index(fields=["series", "instance_number"])]

    def __str__(self) -> str:
        return self.sop_instance_uid
