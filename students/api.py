"""The students API: `/api/students`, `/api/guardians`, `/api/guardianships`."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from harmony.api.permissions import CanManageSchoolRecords, api_actor
from harmony.api.routers import OptionalSlashRouter
from harmony.api.serializers import StrictSerializer, TextField
from harmony.api.versions import expected_version, with_etag
from harmony.models import Application
from privacy.enforcement import DisclosedDataMixin
from students import selectors, services
from students.models import ClassGroup, Guardian, Guardianship, Student, consent_purpose

ROLL_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_-]{0,31}$")


class ClassGroupRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = TextField(read_only=True)
    yearGroup = serializers.IntegerField(source="year_group", read_only=True)


class StudentUserSerializer(serializers.Serializer):
    """The guide's `data.user` block, kept so that partner code written against the guide keeps working."""

    firstName = TextField(source="first_name", read_only=True)
    lastName = TextField(source="last_name", read_only=True)
    email = TextField(read_only=True)


class StudentSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    rollNumber = TextField(source="roll_number", max_length=32)
    firstName = TextField(source="first_name", max_length=100)
    lastName = TextField(source="last_name", max_length=100)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    dateOfBirth = serializers.DateField(source="date_of_birth", required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Student.Gender.choices, required=False, allow_blank=True)
    classGroupId = serializers.PrimaryKeyRelatedField(
        source="class_group", queryset=ClassGroup.objects.all(), required=False, allow_null=True
    )
    classGroup = ClassGroupRefSerializer(source="class_group", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=Student.Status.choices, required=False)
    enrolledOn = serializers.DateField(source="enrolled_on", required=False, allow_null=True)
    leftOn = serializers.DateField(source="left_on", required=False, allow_null=True)
    address = TextField(required=False, allow_blank=True, max_length=500)
    medicalNotes = TextField(source="medical_notes", required=False, allow_blank=True, max_length=4000)
    supportNotes = TextField(source="support_notes", required=False, allow_blank=True, max_length=4000)
    user = StudentUserSerializer(source="*", read_only=True)
    version = serializers.IntegerField(read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def validate_rollNumber(self, value: str) -> str:
        value = value.strip()
        if not ROLL_NUMBER.match(value):
            raise serializers.ValidationError("Use letters, digits, '/', '_' or '-' (at most 32).")
        if self.instance is not None and value != self.instance.roll_number:
            raise serializers.ValidationError("A roll number cannot be changed.", code="immutable")
        return value

    def validate_dateOfBirth(self, value: Any) -> Any:
        if value and value >= timezone.localdate():
            raise serializers.ValidationError("A date of birth must be in the past.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        enrolled = attrs.get("enrolled_on", getattr(self.instance, "enrolled_on", None))
        left = attrs.get("left_on", getattr(self.instance, "left_on", None))
        if enrolled and left and left < enrolled:
            raise serializers.ValidationError({"leftOn": "The leaving date is before the enrolment date."})
        return attrs


class StudentListParams(StrictSerializer):
    search = TextField(required=False, allow_blank=True, max_length=100)
    classGroup = TextField(required=False, allow_blank=True, max_length=50)
    status = serializers.ChoiceField(choices=Student.Status.choices, required=False)
    updatedSince = serializers.DateTimeField(required=False)
    page = serializers.IntegerField(required=False)
    limit = serializers.IntegerField(required=False)


IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="The ETag you read; 412 if it is stale."
)
TOMBSTONE = inline_serializer(
    "StudentTombstone",
    {"id": serializers.IntegerField(), "rollNumber": TextField(), "deleted": serializers.BooleanField()},
)


@extend_schema_view(
    list=extend_schema(
        summary="List students",
        parameters=[
            OpenApiParameter("search", str, description="Words matched against names and roll number"),
            OpenApiParameter("classGroup", str, description="A class group's id or name"),
            OpenApiParameter("status", str, enum=Student.Status.values),
            OpenApiParameter("updatedSince", OpenApiTypes.DATETIME, description="Changed at or after (ISO 8601)"),
        ],
    ),
    retrieve=extend_schema(summary="Read a student"),
    create=extend_schema(summary="Create a student", responses={201: StudentSerializer}),
    update=extend_schema(summary="Replace a student", parameters=[IF_MATCH]),
    partial_update=extend_schema(summary="Change a student", parameters=[IF_MATCH]),
    destroy=extend_schema(summary="Delete a student (leaves a tombstone)", parameters=[IF_MATCH], responses=TOMBSTONE),
)
class StudentViewSet(DisclosedDataMixin, viewsets.GenericViewSet):
    privacy_entity = "students"
    student_id_field = "id"
    serializer_class = StudentSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, CanManageSchoolRecords]
    read_scope = "students:read"
    write_scope = "students:write"
    queryset = Student.objects.none()  # for the schema; real reads go through the selectors

    def _student(self, pk: str) -> Student:
        if not str(pk).isdigit():
            raise Student.DoesNotExist
        return selectors.student_get(actor=api_actor(self.request), pk=int(pk))

    def list(self, request: Request) -> Response:
        params = StudentListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        students = selectors.student_list(
            actor=api_actor(request),
            search=filters.get("search", ""),
            class_group=filters.get("classGroup", ""),
            status=filters.get("status", ""),
            updated_since=filters.get("updatedSince"),
        )
        page = self.paginate_queryset(students)
        return self.get_paginated_response(StudentSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        student = self._student(pk)
        return with_etag(Response(StudentSerializer(student).data), student)

    def create(self, request: Request) -> Response:
        serializer = StudentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        student = services.student_create(data=serializer.validated_data)
        response = Response(StudentSerializer(student).data, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"/api/students/{student.pk}")
        return with_etag(response, student)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        student = self._student(pk)
        version = expected_version(request, student, "student")
        serializer = StudentSerializer(student, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        student = services.student_update(student=student, data=serializer.validated_data, expected_version=version)
        return with_etag(Response(StudentSerializer(student).data), student)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        student = self._student(pk)
        tombstone = services.student_delete(
            student=student, expected_version=expected_version(request, student, "student")
        )
        return Response({"id": tombstone.pk, "rollNumber": tombstone.roll_number, "deleted": True})


class ChildSerializer(serializers.Serializer):
    guardianshipId = serializers.IntegerField(source="id", read_only=True)
    studentId = serializers.IntegerField(source="student_id", read_only=True)
    rollNumber = TextField(source="student.roll_number", read_only=True)
    firstName = TextField(source="student.first_name", read_only=True)
    lastName = TextField(source="student.last_name", read_only=True)
    relationship = TextField(read_only=True)
    parentalResponsibility = serializers.BooleanField(source="parental_responsibility", read_only=True)
    primaryContact = serializers.BooleanField(source="primary_contact", read_only=True)


class GuardianSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    userId = serializers.IntegerField(source="user_id", read_only=True)
    firstName = TextField(source="user.first_name", max_length=150)
    lastName = TextField(source="user.last_name", max_length=150)
    email = serializers.EmailField(source="user.email", max_length=254)
    phone = TextField(required=False, allow_blank=True, max_length=40)
    address = TextField(required=False, allow_blank=True, max_length=500)
    children = serializers.SerializerMethodField()

    @extend_schema_field(ChildSerializer(many=True))
    def get_children(self, guardian: Guardian) -> list[dict[str, Any]]:
        visible = self.context.get("visible_student_ids")
        links = [g for g in guardian.guardianships.all() if visible is None or g.student_id in visible]
        return ChildSerializer(links, many=True).data


class GuardianViewSet(DisclosedDataMixin, viewsets.GenericViewSet):
    privacy_entity = "guardians"
    student_id_field = ""
    nested_children_field = "children"
    serializer_class = GuardianSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, CanManageSchoolRecords]
    read_scope = "students:read"
    write_scope = "students:write"
    queryset = Guardian.objects.none()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        actor = api_actor(self.request)
        limited = not isinstance(actor, Application) and actor is not None and not actor.sees_whole_school
        if limited or consent_purpose(actor) is not None:
            context["visible_student_ids"] = set(Student.objects.visible_to(actor).values_list("pk", flat=True))
        return context

    def _guardian(self, pk: str) -> Guardian:
        if not str(pk).isdigit():
            raise Guardian.DoesNotExist
        return selectors.guardian_list(actor=api_actor(self.request)).get(pk=int(pk))

    def _render(self, guardian: Guardian, **kwargs: Any) -> Response:
        return Response(GuardianSerializer(guardian, context=self.get_serializer_context()).data, **kwargs)

    @extend_schema(summary="List guardians")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.guardian_list(actor=api_actor(request)))
        data = GuardianSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(summary="Read a guardian")
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._render(self._guardian(pk))

    @extend_schema(summary="Create a guardian and their (not yet invited) account", responses={201: GuardianSerializer})
    def create(self, request: Request) -> Response:
        serializer = GuardianSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        guardian = services.guardian_create(user_data=data.pop("user"), data=data)
        return self._render(selectors.guardian_list(actor=api_actor(request)).get(pk=guardian.pk), status=201)

    @extend_schema(summary="Change a guardian")
    def partial_update(self, request: Request, pk: str) -> Response:
        guardian = self._guardian(pk)
        serializer = GuardianSerializer(guardian, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        services.guardian_update(guardian=guardian, user_data=data.pop("user", {}), data=data)
        return self._render(self._guardian(pk))

    @extend_schema(summary="Replace a guardian")
    def update(self, request: Request, pk: str) -> Response:
        guardian = self._guardian(pk)
        serializer = GuardianSerializer(guardian, data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        services.guardian_update(guardian=guardian, user_data=data.pop("user", {}), data=data)
        return self._render(self._guardian(pk))

    @extend_schema(
        summary="Remove a guardian",
        responses=inline_serializer(
            "GuardianRemoved", {"id": serializers.IntegerField(), "deleted": serializers.BooleanField()}
        ),
    )
    def destroy(self, request: Request, pk: str) -> Response:
        guardian = self._guardian(pk)
        guardian_id = guardian.pk
        services.guardian_delete(guardian=guardian)
        return Response({"id": guardian_id, "deleted": True})


class GuardianshipSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    guardianId = serializers.PrimaryKeyRelatedField(source="guardian", queryset=Guardian.objects.all())
    studentId = serializers.PrimaryKeyRelatedField(source="student", queryset=Student.objects.live())
    relationship = serializers.ChoiceField(choices=Guardianship.Relationship.choices)
    parentalResponsibility = serializers.BooleanField(source="parental_responsibility", required=False, default=True)
    primaryContact = serializers.BooleanField(source="primary_contact", required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            for name in ("guardian", "student"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {f"{name}Id": "Create a new guardianship instead of moving this one."}
                    )
        return attrs


class GuardianshipViewSet(DisclosedDataMixin, viewsets.GenericViewSet):
    privacy_entity = "guardianships"
    student_id_field = "studentId"
    serializer_class = GuardianshipSerializer
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, CanManageSchoolRecords]
    read_scope = "students:read"
    write_scope = "students:write"
    queryset = Guardianship.objects.none()

    def _link(self, pk: str) -> Guardianship:
        if not str(pk).isdigit():
            raise Guardianship.DoesNotExist
        return selectors.guardianship_list(actor=api_actor(self.request)).get(pk=int(pk))

    @extend_schema(summary="List guardianships")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.guardianship_list(actor=api_actor(request)))
        return self.get_paginated_response(GuardianshipSerializer(page, many=True).data)

    @extend_schema(summary="Read a guardianship")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(GuardianshipSerializer(self._link(pk)).data)

    @extend_schema(summary="Link a guardian to a student", responses={201: GuardianshipSerializer})
    def create(self, request: Request) -> Response:
        serializer = GuardianshipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = services.guardianship_create(data=serializer.validated_data)
        return Response(GuardianshipSerializer(link).data, status=201)

    @extend_schema(summary="Change a guardianship")
    def partial_update(self, request: Request, pk: str) -> Response:
        link = self._link(pk)
        serializer = GuardianshipSerializer(link, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(
            GuardianshipSerializer(services.guardianship_update(guardianship=link, data=serializer.validated_data)).data
        )

    @extend_schema(
        summary="Unlink a guardian from a student",
        responses=inline_serializer(
            "GuardianshipRemoved", {"id": serializers.IntegerField(), "deleted": serializers.BooleanField()}
        ),
    )
    def destroy(self, request: Request, pk: str) -> Response:
        link = self._link(pk)
        link_id = link.pk
        services.guardianship_delete(guardianship=link)
        return Response({"id": link_id, "deleted": True})


router = OptionalSlashRouter()
router.register("students", StudentViewSet, basename="student")
router.register("guardians", GuardianViewSet, basename="guardian")
router.register("guardianships", GuardianshipViewSet, basename="guardianship")
urlpatterns = router.urls
