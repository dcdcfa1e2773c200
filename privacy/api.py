"""The privacy API of the integration guide: export, delete, consent, retention; plus request status and
the disclosure log, for apps acting for a parent."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harmony.api.permissions import api_person
from harmony.api.serializers import StrictSerializer
from privacy import consent, selectors, services
from privacy.models import ConsentDecision, PrivacyRequest, Purpose, RetentionPolicy
from students.models import Guardian, Student


def _person(request: Request) -> Any:
    return api_person(request, "Use a token issued for the person the request is about (password or code grant).")


def _own_child(user: Any, student_id: int | None) -> Student | None:
    if student_id is None:
        return None
    student = Student.objects.visible_to(user).filter(pk=student_id).first()
    if student is None:
        raise serializers.ValidationError({"studentId": f"No child {student_id} of yours."})
    return student


class PrivacyRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    studentId = serializers.IntegerField(source="subject_student_id", allow_null=True)
    userId = serializers.IntegerField(source="subject_user_id", allow_null=True)
    dueOn = serializers.DateField(source="due_on")
    createdAt = serializers.DateTimeField(source="created_at")
    decisionReason = serializers.CharField(source="decision_reason")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    downloadUrl = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()

    def get_downloadUrl(self, request: PrivacyRequest) -> str | None:
        if request.status != PrivacyRequest.Status.READY:
            return None
        return f"/family/privacy/downloads/{request.download_token}/"

    def get_outcome(self, request: PrivacyRequest) -> dict[str, Any]:
        return request.outcome if request.kind == PrivacyRequest.Kind.ERASURE else {}


class RequestBody(StrictSerializer):
    studentId = serializers.IntegerField(required=False, allow_null=True)


class PrivacyRequestView(APIView):
    read_scope = write_scope = "privacy"
    kind = ""

    @extend_schema(responses=PrivacyRequestSerializer(many=True))
    def get(self, request: Request) -> Response:
        user = _person(request)
        requests = PrivacyRequest.objects.filter(requested_by=user, kind=self.kind).order_by("-created_at")
        return Response(PrivacyRequestSerializer(requests, many=True).data)

    @extend_schema(request=RequestBody, responses={202: PrivacyRequestSerializer})
    def post(self, request: Request) -> Response:
        user = _person(request)
        body = RequestBody(data=request.data or {})
        body.is_valid(raise_exception=True)
        created = services.request_create(
            kind=self.kind,
            requested_by=user,
            via=PrivacyRequest.Via.API,
            student=_own_child(user, body.validated_data.get("studentId")),
        )
        return Response(PrivacyRequestSerializer(created).data, status=202)


class ExportView(PrivacyRequestView):
    """GET: my export requests. POST: ask for a copy of my data (or my child's, with studentId)."""

    kind = PrivacyRequest.Kind.EXPORT


class DeleteView(PrivacyRequestView):
    """POST or DELETE: ask for the erasure of my data (or my child's, with studentId). GET: my requests."""

    kind = PrivacyRequest.Kind.ERASURE

    @extend_schema(request=RequestBody, responses={202: PrivacyRequestSerializer})
    def delete(self, request: Request) -> Response:
        return self.post(request)


class RequestDetailView(APIView):
    read_scope = "privacy"

    @extend_schema(responses=PrivacyRequestSerializer)
    def get(self, request: Request, pk: str) -> Response:
        user = _person(request)
        found = PrivacyRequest.objects.filter(pk=int(pk), requested_by=user).first() if pk.isdigit() else None
        if found is None:
            raise PrivacyRequest.DoesNotExist
        return Response(PrivacyRequestSerializer(found).data)


CONSENT_ANSWER = inline_serializer(
    "ConsentOverview",
    {
        "children": serializers.ListField(child=serializers.DictField()),
        "purposes": serializers.ListField(child=serializers.DictField()),
    },
)


class ConsentView(APIView):
    """GET: each of my children's consent per purpose. PUT: decide, as the guide's body
    `{"<purposeCode>": true|false, …}` (all my children, or one with `studentId`)."""

    read_scope = write_scope = "privacy"

    @extend_schema(responses=CONSENT_ANSWER)
    def get(self, request: Request) -> Response:
        return Response(selectors.consent_overview(_person(request)))

    @extend_schema(
        request=inline_serializer(
            "ConsentUpdate",
            {
                "studentId": serializers.IntegerField(required=False),
                "<purposeCode>": serializers.BooleanField(required=False),
            },
        ),
        responses=CONSENT_ANSWER,
    )
    def put(self, request: Request) -> Response:
        user = _person(request)
        guardian = Guardian.objects.filter(user=user).first()
        if guardian is None:
            raise PermissionDenied("Only parents and guardians give consent.")
        body = dict(request.data) if isinstance(request.data, dict) else None
        if not body:
            raise serializers.ValidationError({"body": 'Send {"<purposeCode>": true|false, …}.'})
        student_id = body.pop("studentId", None)
        if student_id is not None and (not isinstance(student_id, int) or isinstance(student_id, bool)):
            raise serializers.ValidationError({"studentId": "The id of one of your children, a whole number."})
        purposes = {p.code: p for p in Purpose.objects.filter(code__in=list(body), is_active=True)}
        errors = {code: "Unknown purpose." for code in body if code not in purposes}
        errors |= {code: "Use true or false." for code, value in body.items() if not isinstance(value, bool)}
        if errors:
            raise serializers.ValidationError(errors)
        children = (
            [_own_child(user, student_id)]
            if student_id is not None
            else list(
                Student.objects.live().filter(
                    guardianships__guardian=guardian, guardianships__parental_responsibility=True
                )
            )
        )
        with transaction.atomic():  # every decision of the body, or none of them
            for child in children:
                for code, agree in body.items():
                    purpose = purposes[code]
                    decision = consent.decision_for_toggle(
                        student=child, purpose=purpose, guardian=guardian, agree=agree
                    )
                    consent.consent_record(
                        student=child,
                        purpose=purpose,
                        guardian=guardian,
                        decision=decision,
                        method=ConsentDecision.Method.API,
                        recorded_by=user,
                        recorded_by_app=request.auth.application,
                    )
        return Response(selectors.consent_overview(user))


class RetentionSerializer(serializers.Serializer):
    category = serializers.CharField()
    description = serializers.CharField()
    periodDays = serializers.IntegerField(source="period_days")
    anchor = serializers.CharField()
    action = serializers.CharField()
    lawfulBasis = serializers.CharField(source="lawful_basis")


class RetentionView(APIView):
    """The school's retention policies: how long each kind of data is kept, and what happens then."""

    read_scope = "privacy"

    @extend_schema(responses=RetentionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RetentionSerializer(RetentionPolicy.objects.all(), many=True).data)


class DisclosureView(APIView):
    """Which partner systems saw my children's data, what and when."""

    read_scope = "privacy"

    @extend_schema(
        parameters=[OpenApiParameter("studentId", int)],
        responses=inline_serializer("DisclosureList", {"items": serializers.ListField()}),
    )
    def get(self, request: Request) -> Response:
        user = _person(request)
        student_id = request.query_params.get("studentId")
        if student_id is not None and not student_id.isdigit():
            raise serializers.ValidationError({"studentId": "A whole number."})
        children = Student.objects.live().filter(guardianships__guardian__user=user)
        if student_id:
            children = children.filter(pk=int(student_id))
        return Response(selectors.disclosures_for(children, limit=200))


urlpatterns = [
    re_path(r"^privacy/export/?$", ExportView.as_view(), name="privacy-export"),
    re_path(r"^privacy/delete/?$", DeleteView.as_view(), name="privacy-delete"),
    re_path(r"^privacy/requests/(?P<pk>[^/]+)/?$", RequestDetailView.as_view(), name="privacy-request"),
    re_path(r"^privacy/consent/?$", ConsentView.as_view(), name="privacy-consent"),
    re_path(r"^privacy/retention/?$", RetentionView.as_view(), name="privacy-retention"),
    re_path(r"^privacy/disclosures/?$", DisclosureView.as_view(), name="privacy-disclosures"),
]
