"""REST API of reports (docs/reports.md). Reports are fetched with ``get_report_for_user``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse, QueryDict
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from reading.reports import assist, exports, services
from reading.reports import text as report_text
from reading.reports.access import get_report_for_user
from reading.reports.models import ImpressionSuggestion, Macro, Report, ReportTemplate
from reading.reports.serializers import (
    CommunicationSerializer,
    CreateReportSerializer,
    CriticalSerializer,
    DecisionSerializer,
    MacroSerializer,
    SignSerializer,
    VersionSerializer,
    macro_payload,
    report_payload,
    suggestion_payload,
    template_payload,
    version_payload,
)
from reading.studies.access import get_study_for_user


def _refused(exc: services.ReportError) -> Response:
    body = {"code": exc.code, "detail": str(exc)}
    if isinstance(exc, services.UnfilledFields):
        body["fields"] = [
            {k: v for k, v in f.as_dict().items() if k != "options"} for f in exc.fields
        ]
    return Response(body, status=exc.http_status)


class ReportAPIView(APIView):
    def handle_exception(self, exc):
        if isinstance(exc, services.ReportError):
            return _refused(exc)
        return super().handle_exception(exc)


def next_study(user, current, query: str = "") -> dict | None:
    """The next study of the user's worklist after signing ("Sign and next")."""
    from reading.worklist.models import ReadingStatus
    from reading.worklist.queries import WorklistFilter, filtered_items, ordering

    f = WorklistFilter.from_params(QueryDict(query or ""))
    wanted = [ReadingStatus.UNREAD, ReadingStatus.IN_PROGRESS]
    if getattr(user, "is_attending", False):
        wanted.append(ReadingStatus.PRELIMINARY)  # residents' reports waiting to be signed
    item = (
        filtered_items(user, f)
        .filter(reading_status__in=wanted)
        .exclude(pk=current.pk)
        .select_related("study")
        .order_by(*ordering(f))
        .first()
    )
    if item is None:
        return None
    uid = item.study.study_instance_uid
    return {"study_instance_uid": uid, "viewer_url": f"/viewer/{uid}/"}


class StudyReport(ReportAPIView):
    def get(self, request, study_uid: str):
        study = get_study_for_user(request.user, study_uid)
        report = Report.objects.filter(study=study, parent__isnull=True).first()
        if report is None:
            return Response({"code": "no_report", "detail": "No report yet."}, status=404)
        return Response(report_payload(report, request.user))

    def post(self, request, study_uid: str):
        incoming = CreateReportSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report, created = services.get_or_create_report(
            request.user, study_uid, incoming.validated_data.get("template") or None
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(report_payload(report, request.user), status=code)


class ReportDetail(ReportAPIView):
    def get(self, request, report_id):
        return Response(report_payload(get_report_for_user(request.user, report_id), request.user))


class ReportSign(ReportAPIView):
    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        incoming = SignSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if data["level"] == "preliminary":
            attending = None
            if data.get("attending"):
                attending = get_user_model().objects.filter(pk=data["attending"]).first()
                if attending is None:
                    raise services.ReportError("No such attending.")
            services.sign_preliminary(
                report, request.user, attending, allow_unfilled=data["allow_unfilled"]
            )
        else:
            services.sign_final(report, request.user, allow_unfilled=data["allow_unfilled"])
        report = get_report_for_user(request.user, report.pk)
        return Response(
            {
                "report": report_payload(report, request.user),
                "next": next_study(request.user, report.study, data.get("next_query", "")),
            }
        )


class ReportVersions(ReportAPIView):
    def get(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        versions = report.versions.select_related("created_by").order_by("number")
        return Response([version_payload(v) for v in versions])

    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        incoming = VersionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        before = report.versions.count()
        version = services.create_version(report, request.user, incoming.validated_data["reason"])
        created = report.versions.count() > before
        return Response(version_payload(version), status=201 if created else 200)


class ReportDiff(ReportAPIView):
    """Word-level diff between two versions (default: the preliminary and now)."""

    def get(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        versions = {v.number: v for v in report.versions.all()}

        def pick(value: str | None, default):
            if value in (None, ""):
                return default
            if value == "current":
                return "current"
            if not str(value).isdigit() or int(value) not in versions:
                raise Http404("No such version.")
            return int(value)

        prelim = report.versions.filter(reason="sign_preliminary").order_by("-number").first()
        first = min(versions) if versions else "current"
        start = pick(request.query_params.get("from"), prelim.number if prelim else first)
        end = pick(request.query_params.get("to"), "current")

        def text_of(key):
            return report.text if key == "current" else versions[key].text

        ops = report_text.word_diff(text_of(start), text_of(end))
        return Response({"from": start, "to": end, "ops": ops})


class ReportAddenda(ReportAPIView):
    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        addendum, created = services.create_addendum(report, request.user)
        addendum = get_report_for_user(request.user, addendum.pk)
        return Response(report_payload(addendum, request.user), status=201 if created else 200)


class ReportCritical(ReportAPIView):
    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        incoming = CriticalSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.flag_critical(report, request.user, **incoming.validated_data)
        return Response(report_payload(report, request.user))


class ReportCommunications(ReportAPIView):
    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        incoming = CommunicationSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        services.record_communication(
            report,
            request.user,
            data["recipient"],
            data["method"],
            data.get("communicated_at"),
            acknowledged=data["acknowledged"],
            notes=data.get("notes", ""),
        )
        return Response(report_payload(report, request.user), status=201)


class ReportImpression(ReportAPIView):
    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        suggestion = assist.request_impression(report, request.user)
        return Response({"suggestion": suggestion_payload(suggestion)}, status=202)


class ImpressionDecision(ReportAPIView):
    def post(self, request, report_id, suggestion_id: int):
        report = get_report_for_user(request.user, report_id)
        suggestion = ImpressionSuggestion.objects.filter(pk=suggestion_id, report=report).first()
        if suggestion is None:
            raise Http404("No such suggestion.")
        incoming = DecisionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        suggestion = assist.decide_impression(
            suggestion,
            request.user,
            incoming.validated_data["decision"],
            incoming.validated_data.get("text", ""),
        )
        return Response(suggestion_payload(suggestion))


class ReportPDF(ReportAPIView):
    def get(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        data = exports.report_pdf(report, request.user, request=request)
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="report-{report.pk}.pdf"'
        return response


class ReportFHIR(ReportAPIView):
    def get(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        resource = exports.fhir_diagnostic_report(report, request.user, request=request)
        return Response(resource, content_type="application/fhir+json")


class ReportSR(ReportAPIView):
    def post(self, request, report_id):
        report = get_report_for_user(request.user, report_id)
        result = exports.store_report_sr(report, actor=request.user, request=request)
        return Response(
            {
                "sop_instance_uid": result.sop_instance_uid,
                "series_instance_uid": result.series_instance_uid,
            },
            status=201,
        )


class Templates(ReportAPIView):
    def get(self, request):
        chosen = None
        if request.query_params.get("study"):
            study = get_study_for_user(request.user, request.query_params["study"])
            chosen = services.choose_template(study)
        templates = ReportTemplate.objects.filter(is_active=True)
        return Response(
            [template_payload(t, suggested=bool(chosen and chosen.pk == t.pk)) for t in templates]
        )


class Macros(ReportAPIView):
    def get(self, request):
        return Response([macro_payload(m) for m in assist.macros_for_user(request.user)])

    def post(self, request):
        incoming = MacroSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        macro = assist.save_macro(
            request.user, data["name"], data["text"], department=data["scope"] == "department"
        )
        return Response(macro_payload(macro), status=201)


class MacroDetail(ReportAPIView):
    def delete(self, request, macro_id: int):
        macro = Macro.objects.filter(pk=macro_id).first()
        if macro is None or (macro.owner_id not in (None, request.user.pk)):
            raise Http404("No such macro.")
        assist.delete_macro(request.user, macro)
        return Response(status=204)
