"""DICOMweb routes (PS3.18 Table 10.4-1, 10.5-1, 10.6-1), mounted at ``/dicomweb/``."""

from django.urls import path, register_converter

from reading.studies.dicomweb import metadata, qido, render, stow, wado


class UIDConverter:
    regex = r"[0-9]+(?:\.[0-9]+)*"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class FrameListConverter:
    regex = r"[0-9]+(?:,[0-9]+)*"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(UIDConverter, "dicom_uid")
register_converter(FrameListConverter, "dicom_frames")

app_name = "dicomweb"
S = "studies/<dicom_uid:study_uid>"
SE = S + "/series/<dicom_uid:series_uid>"
I = SE + "/instances/<dicom_uid:sop_uid>"  # noqa: E741

urlpatterns = [
    path("studies", stow.studies_root, name="studies"),
    path("series", qido.search_all_series, name="series"),
    path("instances", qido.search_all_instances, name="instances"),
    path(S, stow.study_root, name="study"),
    path(S + "/metadata", metadata.study_metadata, name="study-metadata"),
    path(S + "/thumbnail", render.thumbnail_study, name="study-thumbnail"),
    path(S + "/rendered", render.rendered_study, name="study-rendered"),
    path(S + "/series", qido.search_study_series, name="study-series"),
    path(S + "/instances", qido.search_study_instances, name="study-instances"),
    path(SE, wado.retrieve_series, name="series-retrieve"),
    path(SE + "/metadata", metadata.series_metadata, name="series-metadata"),
    path(SE + "/pixeldata", wado.retrieve_series_pixeldata, name="series-pixeldata"),
    path(SE + "/thumbnail", render.thumbnail_series, name="series-thumbnail"),
    path(SE + "/rendered", render.rendered_series, name="series-rendered"),
    path(SE + "/instances", qido.search_series_instances, name="series-instances"),
    path(I, wado.retrieve_instance, name="instance"),
    path(I + "/metadata", metadata.instance_metadata, name="instance-metadata"),
    path(I + "/rendered", render.rendered_instance, name="instance-rendered"),
    path(I + "/thumbnail", render.thumbnail_instance, name="instance-thumbnail"),
    path(I + "/frames/<dicom_frames:frames>", wado.retrieve_frames, name="frames"),
    path(
        I + "/frames/<dicom_frames:frames>/rendered", render.rendered_frames, name="frames-rendered"
    ),
    path(I + "/bulkdata/<path:tag_path>", wado.retrieve_bulkdata, name="bulkdata"),
]
