"""The sync endpoints: POST /api/sync/<entity> (push a batch), GET /api/sync/changes (the feed), GET
/api/sync/status. Entity-agnostic: each domain app registers what its records are (`harmony.sync.registry`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from harmony.api.permissions import CanManageSchoolRecords, api_actor
from harmony.api.serializers import StrictSerializer, TextField
from harmony.errors import PayloadTooLarge
from harmony.models import Application
from harmony.sync import idempotency, state
from harmony.sync.changes import changes_after, decode_cursor, encode_cursor, feed_head
from harmony.sync.registry import OnConflict, PushRequest, SyncEntity, entities, get

MAX_RECORDS = 5000
FEED_LIMIT = 100
FEED_MAX_LIMIT = 1000
STATUSES = {"created": "created", "updated": "updated", "unchanged": "unchanged", "conflict": "conflicts"}

_datetime = serializers.DateTimeField()


def as_text(value: Any) -> str | None:
    """Render a datetime as the rest of the API does (ISO 8601 in the school's time zone)."""
    return None if value is None else _datetime.to_representation(value)


def totals_of(results: list[dict[str, Any]]) -> dict[str, int]:
    totals = dict.fromkeys(("created", "updated", "unchanged", "conflicts", "errors"), 0)
    for result in results:
        totals[STATUSES.get(result["status"], "errors")] += 1
    return totals


def _unknown(names: Any) -> ValidationError:
    return ValidationError(
        {name: [ErrorDetail("This field is not known.", code="unknown_field")] for name in sorted(names)}
    )


class SyncPushView(APIView):
    """Create or update a batch of records by natural key, each with its own result; see `post`."""

    entity: SyncEntity  # set for each route by `push_view`
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, CanManageSchoolRecords]
    extra_scopes = ("sync",)

    @property
    def write_scope(self) -> str:
        return self.entity.write_scope

    def _parse(self, body: Any) -> tuple[list[Any], Any, str]:
        field = self.entity.records_field
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        if unknown := set(body) - {field, "lastSyncTimestamp", "onConflict"}:
            raise _unknown(unknown)
        records = body.get(field)
        if not isinstance(records, list):
            raise ValidationError({field: ["A list of records is required."]})
        if len(records) > MAX_RECORDS:
            raise PayloadTooLarge(
                f"At most {MAX_RECORDS} records per request; this one has {len(records)}. Send them in batches.",
                field=field,
                limit=MAX_RECORDS,
            )
        last_sync = body.get("lastSyncTimestamp")
        if last_sync is not None:
            try:
                last_sync = _datetime.run_validation(last_sync)
            except ValidationError as error:
                raise ValidationError({"lastSyncTimestamp": error.detail}) from None
        on_conflict = body.get("onConflict", OnConflict.REJECT)
        if on_conflict not in OnConflict.CHOICES:
            raise ValidationError({"onConflict": [f"Use one of: {', '.join(OnConflict.CHOICES)}."]})
        return records, last_sync, on_conflict

    def post(self, request: Request) -> Response:
        """Apply the batch in one transaction; a bad record is reported and never stops the good ones.

        Matched by natural key: created, updated, unchanged, conflict (changed on the server after
        lastSyncTimestamp, settled by onConflict) or error (with the field and the reason). With an
        Idempotency-Key, the same request again gets the first answer and changes nothing.
        """
        entity = self.entity
        application = request.auth.application
        started = timezone.now()
        try:
            records, last_sync, on_conflict = self._parse(request.data)
            key = request.headers.get(idempotency.HEADER, "").strip()
            if len(key) > idempotency.MAX_KEY_LENGTH:
                raise ValidationError({idempotency.HEADER: [f"At most {idempotency.MAX_KEY_LENGTH} characters."]})
        except (ValidationError, PayloadTooLarge):
            state.push_recorded(application=application, entity=entity.name, at=started, outcome="failed", totals={})
            raise
        if key:
            idempotency.forget_expired()
        with transaction.atomic():
            claimed = None
            if key:
                digest = idempotency.fingerprint("POST", f"sync/{entity.name}", request.data)
                claimed = idempotency.claim(application=application, key=key, digest=digest)
                if isinstance(claimed, idempotency.Replay):
                    return Response(claimed.answer, status=claimed.status_code, headers={"Idempotent-Replayed": "true"})
            result = entity.push(PushRequest(records, api_actor(request), application, last_sync, on_conflict))
            self._disclose(request, result.results)
            totals = totals_of(result.results)
            answer = {
                "results": result.results,
                "totals": totals,
                "onConflict": on_conflict,
                "syncedAt": as_text(started),  # send it back as lastSyncTimestamp next time
            }
            outcome = "applied" if totals["conflicts"] + totals["errors"] == 0 else "partial"
            state.push_recorded(application=application, entity=entity.name, at=started, outcome=outcome, totals=totals)
            if claimed is not None:
                idempotency.complete(claimed, status_code=200, answer=answer, subjects=result.subjects)
        return Response(answer)

    def _disclose(self, request: Request, results: list[dict[str, Any]]) -> None:
        """The server's values in a conflict are a child's data sent to a partner: limited and logged."""
        carrying = [result for result in results if "server" in result]
        if carrying:
            sent = self.entity.disclose(request, [result["server"] for result in carrying])
            for result, row in zip(carrying, sent, strict=True):
                result["server"] = row


def push_view(entity: SyncEntity) -> Any:
    """Return the push view of `entity`, documented with its own record shape."""
    records = serializers.ListField(
        child=entity.record_serializer() if entity.record_serializer else serializers.DictField()
    )
    body = inline_serializer(
        f"{entity.name.title()}SyncRequest",
        {
            entity.records_field: records,
            "lastSyncTimestamp": serializers.DateTimeField(required=False, allow_null=True),
            "onConflict": serializers.ChoiceField(choices=OnConflict.CHOICES, required=False),
        },
    )
    answer = inline_serializer(
        f"{entity.name.title()}SyncResult",
        {
            "results": serializers.ListField(child=serializers.DictField()),
            "totals": serializers.DictField(child=serializers.IntegerField()),
            "onConflict": serializers.CharField(),
            "syncedAt": serializers.DateTimeField(),
        },
    )
    key = OpenApiParameter(
        idempotency.HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="Sent again, replays the first answer",
    )

    @extend_schema(
        summary=f"Synchronise {entity.name} in a batch (at most {MAX_RECORDS} records, matched by "
        f"{' + '.join(entity.key_fields)})",
        request=body,
        responses={200: answer},
        parameters=[key],
        operation_id=f"sync_{entity.name}",
    )
    def post(self: SyncPushView, request: Request) -> Response:
        return SyncPushView.post(self, request)

    view = type(f"{entity.name.title()}SyncView", (SyncPushView,), {"entity": entity, "post": post})
    return view.as_view()


FEED_ITEM = {
    "type": "object",
    "required": ["operation", "key", "changedAt"],
    "properties": {
        "operation": {"type": "string", "enum": ["upsert", "delete"]},
        "key": {"type": "object", "description": "The natural key: rollNumber (and date, session for attendance)"},
        "changedAt": {"type": "string", "format": "date-time"},
        "record": {"type": "object", "description": "Upserts only: the record as its own endpoint shows it"},
    },
}
# The page is its own envelope (like a paged list), so the schema hook leaves it as it is.
FEED_PAGE = {
    "type": "object",
    "required": ["success", "data", "nextCursor", "hasMore", "limit"],
    "properties": {
        "success": {"type": "boolean", "enum": [True]},
        "data": {"type": "array", "items": FEED_ITEM},
        "nextCursor": {"type": "string", "description": "Opaque: send it back as cursor"},
        "hasMore": {"type": "boolean"},
        "limit": {"type": "integer"},
    },
}


class FeedParams(StrictSerializer):
    entity = TextField()
    cursor = TextField(required=False, allow_blank=True, max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=FEED_MAX_LIMIT, default=FEED_LIMIT)

    def validate_entity(self, value: str) -> SyncEntity:
        entity = get(value)
        if entity is None:
            raise serializers.ValidationError(f"Use one of: {', '.join(e.name for e in entities())}.")
        return entity

    def validate_cursor(self, value: str) -> int:
        if not value:
            return 0
        try:
            return decode_cursor(value)
        except ValueError:
            raise serializers.ValidationError("Not a cursor this feed gave.") from None


class ChangeFeedView(APIView):
    """The changes of one entity after a cursor, in order, each with the record as it is now."""

    extra_scopes = ("sync",)

    @property
    def read_scope(self) -> str | None:
        entity = get(self.request.query_params.get("entity", ""))
        return entity.read_scope if entity else None

    @extend_schema(
        summary="Changes after a cursor (upserts with the record, tombstones with only the natural key)",
        parameters=[
            OpenApiParameter("entity", str, required=True, description="students or attendance"),
            OpenApiParameter("cursor", str, description="The nextCursor of the previous page; none to start"),
            OpenApiParameter("limit", int, description=f"At most {FEED_MAX_LIMIT} (default {FEED_LIMIT})"),
        ],
        responses={200: FEED_PAGE},
    )
    def get(self, request: Request) -> Response:
        params = FeedParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        entity: SyncEntity = params.validated_data["entity"]
        limit = params.validated_data["limit"]
        at = timezone.now()
        page = changes_after(entity.name, params.validated_data.get("cursor", 0), limit)
        actor = api_actor(request)
        upserted = [row.record_id for row in page.rows if not row.deleted]
        records = entity.render(request, actor, upserted) if upserted else {}
        # A tombstone carries only a key the school keeps anyway (on the suppression list, for an erasure), and a
        # partner must hear of every deletion to delete its own copy; a teacher or a guardian has no copies.
        tombstones = isinstance(actor, Application) or bool(getattr(actor, "sees_whole_school", False))
        items = []
        for row in page.rows:
            if row.deleted:
                if tombstones:
                    items.append({"operation": "delete", "key": row.key, "changedAt": as_text(row.changed_at)})
            elif (record := records.get(row.record_id)) is not None:
                items.append(
                    {"operation": "upsert", "key": row.key, "changedAt": as_text(row.changed_at), "record": record}
                )
        state.pull_recorded(
            application=request.auth.application,
            entity=entity.name,
            at=at,
            number=page.last_number,
            count=len(items),
            caught_up=not page.has_more,
        )
        body = {
            "success": True,
            "data": items,
            "nextCursor": encode_cursor(page.last_number),
            "hasMore": page.has_more,
            "limit": limit,
        }
        return Response(body)


class SyncStatusView(APIView):
    """Per entity, the feed's position and counts; for the calling application, its last push and pull."""

    read_scope = "sync"

    @extend_schema(
        summary="Where the feed stands, and this application's last push and pull per entity",
        responses=inline_serializer(
            "SyncStatus",
            {
                "lastSync": serializers.DictField(child=serializers.DateTimeField(allow_null=True)),
                "entities": serializers.DictField(child=serializers.DictField()),
                "push": serializers.DictField(child=serializers.DictField(allow_null=True)),
                "pull": serializers.DictField(child=serializers.DictField(allow_null=True)),
                "serverTime": serializers.DateTimeField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        actor = api_actor(request)
        states = state.states_of(request.auth.application)
        body: dict[str, Any] = {"lastSync": {}, "entities": {}, "push": {}, "pull": {}, "serverTime": None}
        for entity in entities():
            head = feed_head(entity.name)
            body["entities"][entity.name] = {
                "changeNumber": head["number"],
                "cursor": encode_cursor(head["number"]),
                "changes": head["changes"],
                "records": entity.count(actor),
            }
            mine = states.get(entity.name)
            body["lastSync"][entity.name] = as_text(mine.last_synced_at) if mine else None
            body["push"][entity.name] = (
                {
                    "at": as_text(mine.last_push_at),
                    "outcome": mine.last_push_outcome,
                    "totals": mine.last_push_totals,
                }
                if mine and mine.last_push_at
                else None
            )
            body["pull"][entity.name] = (
                {
                    "at": as_text(mine.last_pull_at),
                    "cursor": encode_cursor(mine.last_pull_number or 0),
                    "changes": mine.last_pull_count,
                    "caughtUp": mine.last_pull_caught_up,
                }
                if mine and mine.last_pull_at
                else None
            )
        body["serverTime"] = as_text(timezone.now())
        return Response(body)
