"""The attendance API: `/api/attendance`, `/api/attendance/registers`, `/api/attendance/codes`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from attendance import selectors, services
from attendance.models import AttendanceCode, AttendanceRecord, Register, session_names
from harmony.api.permissions import api_actor
from harmony.api.routers import OptionalSlashRouter
from harmony.api.serializers import StrictSerializer, TextField
from harmony.api.versions import expected_version, with_etag
from harmony.errors import PayloadTooLarge
from harmony.models import Application
from privacy.enforcement import DisclosedDataMixin
from students.models import ClassGroup, Student

STATUSES = [choice for choice, _ in AttendanceCode.ApiStatus.choices]
# The most marks one register takes: more than any class has, few enough to validate in one request.
MAX_REGISTER_MARKS = 200


class AttendanceRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    studentId = serializers.IntegerField(source="student_id")
    rollNumber = serializers.CharField(source="student.roll_number")
    date = serializers.DateField()
    session = serializers.CharField()
    status = serializers.ChoiceField(source="code.api_status", choices=STATUSES)
    code = serializers.CharField(source="code.code")
    minutesLate = serializers.IntegerField(source="minutes_late", allow_null=True)
    remarks = serializers.CharField()
    source = serializers.CharField()
    registerId = serializers.IntegerField(source="register_id", allow_null=True)
    recordedAt = serializers.DateTimeField(source="recorded_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    version = serializers.IntegerField()


class MarkFields(StrictSerializer):
    """The mark itself: a guide status or one of the school's codes, minutes late and a remark."""

    status = serializers.ChoiceField(choices=STATUSES, required=False)
    code = TextField(required=False, max_length=4)
    minutesLate = serializers.IntegerField(
        source="minutes_late", required=False, allow_null=True, min_value=0, max_value=300
    )
    remarks = TextField(required=False, allow_blank=True, max_length=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        status, code = attrs.pop("status", None), attrs.pop("code", None)
        if status and code:
            raise serializers.ValidationError({"code": "Give a status or a code, not both."})
        if status or code:
            # A register passes one CodeBook to all its marks: one query however many students it has.
            attrs["code"] = services.resolve_code(code=code, status=status, book=self.context.get("codes"))
        elif not self.partial:
            raise serializers.ValidationError({"status": "Give a status (present, absent, late, excused) or a code."})
        return attrs


class AttendanceCreateSerializer(MarkFields):
    studentId = serializers.IntegerField()
    date = serializers.DateField()
    session = serializers.ChoiceField(choices=session_names(), required=False)


class AttendanceUpdateSerializer(MarkFields):
    pass


class RegisterMarkSerializer(MarkFields):
    studentId = serializers.IntegerField()


class RegisterSubmitSerializer(StrictSerializer):
    classGroup = serializers.IntegerField()
    date = serializers.DateField()
    session = serializers.ChoiceField(choices=session_names())
    marks = RegisterMarkSerializer(many=True, allow_empty=False, max_length=MAX_REGISTER_MARKS)


class RegisterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    classGroupId = serializers.IntegerField(source="class_group_id")
    classGroup = serializers.CharField(source="class_group.name")
    date = serializers.DateField()
    session = serializers.CharField()
    takenBy = serializers.IntegerField(source="taken_by_id", allow_null=True)
    openedAt = serializers.DateTimeField(source="opened_at")
    submittedAt = serializers.DateTimeField(source="submitted_at", allow_null=True)
    isLate = serializers.BooleanField(source="is_late")


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    status = serializers.CharField(source="api_status")
    countsAsPossible = serializers.BooleanField(source="counts_as_possible")
    usableBy = serializers.CharField(source="usable_by")
    isActive = serializers.BooleanField(source="is_active")


class AttendanceListParams(StrictSerializer):
    date = serializers.DateField(required=False)
    startDate = serializers.DateField(required=False)
    endDate = serializers.DateField(required=False)
    studentId = serializers.IntegerField(required=False, min_value=1)
    classGroup = TextField(required=False, max_length=50)
    status = serializers.ChoiceField(choices=STATUSES, required=False)
    session = serializers.ChoiceField(choices=session_names(), required=False)
    page = serializers.IntegerField(required=False)
    limit = serializers.IntegerField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("startDate") and attrs.get("endDate") and attrs["endDate"] < attrs["startDate"]:
            raise serializers.ValidationError({"endDate": "endDate is before startDate."})
        return attrs


class AttendanceViewSet(DisclosedDataMixin, viewsets.GenericViewSet):
    privacy_entity = "attendance"
    student_id_field = "studentId"
    serializer_class = AttendanceRecordSerializer
    read_scope = "attendance:read"
    write_scope = "attendance:write"
    queryset = AttendanceRecord.objects.none()

    def _record(self, pk: str) -> AttendanceRecord:
        if not str(pk).isdigit():
            raise AttendanceRecord.DoesNotExist
        return selectors.record_list(actor=api_actor(self.request)).get(pk=int(pk))

    def _writer(self) -> Any:
        actor = api_actor(self.request)
        if not isinstance(actor, Application) and not actor.is_school_staff:
            raise PermissionDenied("Parents report absences from the family pages; they cannot mark registers.")
        return actor

    @extend_schema(
        summary="List attendance records",
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE),
            OpenApiParameter("startDate", OpenApiTypes.DATE),
            OpenApiParameter("endDate", OpenApiTypes.DATE),
            OpenApiParameter("studentId", int),
            OpenApiParameter("classGroup", str, description="A class group's id or name"),
            OpenApiParameter("status", str, enum=STATUSES),
            OpenApiParameter("session", str, enum=session_names()),
        ],
    )
    def list(self, request: Request) -> Response:
        params = AttendanceListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        records = selectors.record_list(
            actor=api_actor(request),
            date=p.get("date"),
            start=p.get("startDate"),
            end=p.get("endDate"),
            student_id=p.get("studentId"),
            class_group=p.get("classGroup", ""),
            status=p.get("status", ""),
            session=p.get("session", ""),
        )
        page = self.paginate_queryset(records)
        return self.get_paginated_response(AttendanceRecordSerializer(page, many=True).data)

    @extend_schema(summary="Read an attendance record")
    def retrieve(self, request: Request, pk: str) -> Response:
        record = self._record(pk)
        return with_etag(Response(AttendanceRecordSerializer(record).data), record)

    @extend_schema(
        summary="Record attendance (the guide's payload; session defaults to the first)",
        request=AttendanceCreateSerializer,
        responses={201: AttendanceRecordSerializer},
    )
    def create(self, request: Request) -> Response:
        actor = self._writer()
        serializer = AttendanceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        student = Student.objects.visible_to(actor).filter(pk=data["studentId"]).first()
        if student is None:
            raise serializers.ValidationError({"studentId": f"No student {data['studentId']} that you may see."})
        record = services.record_create(
            actor=actor,
            student=student,
            date=data["date"],
            session=data.get("session") or session_names()[0],
            code=data["code"],
            minutes_late=data.get("minutes_late"),
            remarks=data.get("remarks", ""),
        )
        record = self._record(str(record.pk))
        return with_etag(Response(AttendanceRecordSerializer(record).data, status=201), record)

    def _update(self, request: Request, pk: str, partial: bool) -> Response:
        actor = self._writer()
        record = self._record(pk)
        version = expected_version(request, record)
        serializer = AttendanceUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if not partial:  # PUT replaces the mark: what it leaves out is cleared
            fields = {"minutes_late": None, "remarks": "", **fields}
        services.record_update(actor=actor, record=record, fields=fields, expected_version=version)
        record = self._record(pk)
        return with_etag(Response(AttendanceRecordSerializer(record).data), record)

    @extend_schema(summary="Change a mark", request=AttendanceUpdateSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(summary="Replace a mark", request=AttendanceUpdateSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        summary="Delete a mark (its history is kept)",
        responses=inline_serializer(
            "AttendanceRemoved", {"id": serializers.IntegerField(), "deleted": serializers.BooleanField()}
        ),
    )
    def destroy(self, request: Request, pk: str) -> Response:
        actor = self._writer()
        record = self._record(pk)
        record_id = record.pk
        services.record_delete(actor=actor, record=record, expected_version=expected_version(request, record))
        return Response({"id": record_id, "deleted": True})

    @extend_schema(
        summary="Take a whole register, all or nothing",
        request=RegisterSubmitSerializer,
        responses=inline_serializer(
            "RegisterResult",
            {
                "register": RegisterSerializer(),
                "created": serializers.IntegerField(),
                "updated": serializers.IntegerField(),
                "unchanged": serializers.IntegerField(),
            },
        ),
    )
    @action(detail=False, methods=["post"], url_path="registers")
    def registers(self, request: Request) -> Response:
        actor = self._writer()
        marks = request.data.get("marks") if isinstance(request.data, dict) else None
        if isinstance(marks, list) and len(marks) > MAX_REGISTER_MARKS:
            raise PayloadTooLarge(f"A register takes at most {MAX_REGISTER_MARKS} marks.", field="marks")
        serializer = RegisterSubmitSerializer(data=request.data, context={"codes": services.CodeBook.load()})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        class_group = ClassGroup.objects.visible_to(actor).filter(pk=data["classGroup"]).first()
        if class_group is None:
            raise serializers.ValidationError({"classGroup": f"No class group {data['classGroup']} that you teach."})
        marks = [
            services.Mark(m["studentId"], m["code"], m.get("minutes_late"), m.get("remarks", "")) for m in data["marks"]
        ]
        result = services.register_submit(
            actor=actor,
            class_group=class_group,
            date=data["date"],
            session=data["session"],
            marks=marks,
            source=AttendanceRecord.Source.API if isinstance(actor, Application) else AttendanceRecord.Source.REGISTER,
        )
        register = Register.objects.select_related("class_group").get(pk=result.register.pk)
        body = {
            "register": RegisterSerializer(register).data,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }
        return Response(body, status=201 if result.created else 200)

    @extend_schema(summary="The school's attendance codes", responses=CodeSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="codes", pagination_class=None)
    def codes(self, request: Request) -> Response:
        return Response(CodeSerializer(AttendanceCode.objects.all(), many=True).data)


router = OptionalSlashRouter()
router.register("attendance", AttendanceViewSet, basename="attendance")
urlpatterns = router.urls
