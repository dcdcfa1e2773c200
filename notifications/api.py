"""The notifications API: `/api/notifications`, `/api/notifications/bulk`, read marks and the unread count."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from harmony.api.permissions import api_actor, api_person
from harmony.api.routers import OptionalSlashRouter
from harmony.api.serializers import StrictSerializer, TextField
from notifications import selectors, services
from notifications.models import Message, Notification, NotificationType, Priority
from students.models import ClassGroup, Student


class DeliverySerializer(serializers.Serializer):
    channel = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True)


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(source="message.title")
    message = serializers.CharField(source="message.body")
    type = serializers.CharField(source="message.type")
    priority = serializers.CharField(source="message.priority")
    recipientId = serializers.IntegerField(source="recipient_id")
    studentId = serializers.IntegerField(source="message.student_id", allow_null=True)
    messageId = serializers.IntegerField(source="message_id")
    senderId = serializers.IntegerField(source="message.sender_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    readAt = serializers.DateTimeField(source="read_at", allow_null=True)
    isRead = serializers.SerializerMethodField()
    deliveries = DeliverySerializer(many=True)

    def get_isRead(self, notification: Notification) -> bool:
        return notification.read_at is not None


# Ids are database keys: a number beyond them is invalid input here, not an overflow in the database driver.
ID_RANGE = {"min_value": 1, "max_value": 2**63 - 1}


class ComposeSerializer(StrictSerializer):
    title = TextField(max_length=200)
    message = TextField(max_length=5000)
    type = serializers.ChoiceField(choices=NotificationType.choices, default=NotificationType.INFO)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    studentId = serializers.IntegerField(required=False, allow_null=True, **ID_RANGE)


class NotificationCreateSerializer(ComposeSerializer):
    recipientId = serializers.IntegerField(**ID_RANGE)


class BulkAudienceSerializer(StrictSerializer):
    classGroup = serializers.IntegerField(required=False, **ID_RANGE)
    yearGroup = serializers.IntegerField(required=False, min_value=1, max_value=14)
    school = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        chosen = [name for name in ("classGroup", "yearGroup", "school") if attrs.get(name) not in (None, False)]
        if len(chosen) != 1:
            raise serializers.ValidationError("Choose exactly one of classGroup, yearGroup or school: true.")
        return attrs


class BulkSerializer(ComposeSerializer):
    recipientIds = serializers.ListField(
        child=serializers.IntegerField(**ID_RANGE), required=False, max_length=10000, allow_empty=False
    )
    audience = BulkAudienceSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("recipientIds" in attrs) == ("audience" in attrs):
            raise serializers.ValidationError({"recipientIds": "Give recipientIds or an audience, not both."})
        return attrs


class ListParams(StrictSerializer):
    read = serializers.BooleanField(required=False, allow_null=True, default=None)
    type = serializers.ChoiceField(choices=NotificationType.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    page = serializers.IntegerField(required=False)
    limit = serializers.IntegerField(required=False)


BULK_RESULT = inline_serializer(
    "BulkResult",
    {
        "count": serializers.IntegerField(),
        "messageId": serializers.IntegerField(),
        "message": serializers.CharField(),
    },
)


def _student(actor: Any, student_id: int | None) -> Student | None:
    if student_id is None:
        return None
    student = Student.objects.visible_to(actor).filter(pk=student_id).first()
    if student is None:
        raise serializers.ValidationError({"studentId": f"No student {student_id} that you may see."})
    return student


class NotificationViewSet(viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    read_scope = "notifications:read"
    write_scope = "notifications:write"
    queryset = Notification.objects.none()

    def _own(self, pk: str) -> Notification:
        if not str(pk).isdigit():
            raise Notification.DoesNotExist
        return selectors.notifications_for(api_actor(self.request)).get(pk=int(pk))

    @extend_schema(
        summary="List notifications: a user's own, or those an application sent",
        parameters=[
            OpenApiParameter("read", bool, description="true: only read ones; false: only unread ones"),
            OpenApiParameter("type", str, enum=NotificationType.values),
            OpenApiParameter("priority", str, enum=Priority.values),
        ],
    )
    def list(self, request: Request) -> Response:
        params = ListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        notifications = selectors.notifications_for(
            api_actor(request),
            read=params.validated_data.get("read"),
            type=params.validated_data.get("type", ""),
            priority=params.validated_data.get("priority", ""),
        )
        page = self.paginate_queryset(notifications)
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    @extend_schema(summary="Read a notification")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(NotificationSerializer(self._own(pk)).data)

    @extend_schema(
        summary="Send a notification to one person",
        request=NotificationCreateSerializer,
        responses={201: NotificationSerializer},
    )
    def create(self, request: Request) -> Response:
        actor = _sender(request)
        serializer = NotificationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.message_send(
            actor=actor,
            audience=services.Audience(user_ids=(data["recipientId"],)),
            title=data["title"],
            body=data["message"],
            type=data["type"],
            priority=data["priority"],
            student=_student(actor, data.get("studentId")),
        )
        notification = selectors.notification_with_deliveries(message.notifications.get().pk)
        return Response(NotificationSerializer(notification).data, status=201)

    @extend_schema(
        summary="Send one message to many: recipientIds, or an audience",
        request=BulkSerializer,
        responses={201: BULK_RESULT},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        actor = _sender(request)
        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.message_send(
            actor=actor,
            audience=_audience(actor, data),
            title=data["title"],
            body=data["message"],
            type=data["type"],
            priority=data["priority"],
            student=_student(actor, data.get("studentId")),
        )
        count = message.recipient_count
        return Response(
            {"count": count, "messageId": message.pk, "message": f"{count} recipient{'s' if count != 1 else ''}"},
            status=201,
        )

    # Marking read changes only the caller's own inbox, so an app acting for a parent needs no right to send.
    @extend_schema(summary="Mark a notification read", request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"], write_scope="notifications:read")
    def read(self, request: Request, pk: str) -> Response:
        user = _user_only(request)
        notification = services.notification_mark_read(user=user, notification=self._own(pk))
        return Response(NotificationSerializer(selectors.notification_with_deliveries(notification.pk)).data)

    @extend_schema(
        summary="Mark all my notifications read",
        request=None,
        responses=inline_serializer("MarkedRead", {"updated": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all", write_scope="notifications:read")
    def read_all(self, request: Request) -> Response:
        return Response({"updated": services.notifications_mark_all_read(user=_user_only(request))})

    @extend_schema(
        summary="How many of my notifications are unread",
        responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        return Response({"unread": selectors.unread_count(_user_only(request))})


def _sender(request: Request) -> Any:
    """Return the caller if they may send at all, before looking at what they sent."""
    actor = api_actor(request)
    services.check_may_send(actor)
    return actor


def _user_only(request: Request) -> Any:
    return api_person(request, "Only a person can mark their notifications read: use a token issued for a user.")


def _audience(actor: Any, data: dict[str, Any]) -> services.Audience:
    if "recipientIds" in data:
        return services.Audience(user_ids=tuple(dict.fromkeys(data["recipientIds"])))
    audience = data["audience"]
    if audience.get("classGroup") is not None:
        group = ClassGroup.objects.visible_to(actor).filter(pk=audience["classGroup"]).first()
        if group is None:
            raise serializers.ValidationError({"audience.classGroup": "No class group that you may message."})
        return services.Audience(kind=Message.Audience.CLASS_GROUP, class_group=group)
    if audience.get("yearGroup") is not None:
        return services.Audience(kind=Message.Audience.YEAR_GROUP, year_group=audience["yearGroup"])
    return services.Audience(kind=Message.Audience.SCHOOL)


router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
