"""Purpose limitation, consent and the disclosure log, applied to every partner API answer about children.

A partner application is registered with the purposes it serves (PartnerPurpose). Each request names one in
`X-Data-Purpose` (or falls back to the application's default purpose); a purpose it does not hold answers
403. The purpose is attached to the application (and to the user of a user's token) for the rest of the
request, where `Student.objects.visible_to` drops every child without a granted consent when the purpose
requires it.
Viewsets that return children's data mix in `DisclosedDataMixin`: it strips the fields the purpose may
not see and writes the disclosure log, one insert per answer, whatever its size.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from privacy.models import DisclosedStudent, Disclosure, PartnerPurpose, Purpose

PURPOSE_HEADER = "X-Data-Purpose"


class PurposeRequired(PermissionDenied):
    pass


def resolve_purpose(application: Any, stated: str) -> Purpose | None:
    """Return the purpose a request acts for; None for an application registered without purposes."""
    links = list(PartnerPurpose.objects.filter(application=application).select_related("purpose"))
    if stated:
        for link in links:
            if link.purpose.code == stated and link.purpose.is_active:
                return link.purpose
        raise PermissionDenied(f"This application is not registered for the purpose {stated!r}.")
    if not links:
        return None
    default = next((link for link in links if link.is_default), links[0] if len(links) == 1 else None)
    if default is None:
        codes = ", ".join(sorted(link.purpose.code for link in links))
        raise PermissionDenied(f"State the purpose of this request in {PURPOSE_HEADER}: one of {codes}.")
    return default.purpose


class DataPurpose(BasePermission):
    """Attach the request's purpose to its application (see the module docstring)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = getattr(request, "auth", None)
        if token is None:
            return True
        application = token.application
        application.data_purpose = resolve_purpose(application, request.headers.get(PURPOSE_HEADER, "").strip())
        if token.user_id is not None:
            # A user's token still carries the data to the partner's system: the same consent applies.
            token.user.data_purpose = application.data_purpose
        return True


def request_purpose(request: Request) -> Purpose | None:
    token = getattr(request, "auth", None)
    return getattr(token.application, "data_purpose", None) if token is not None else None


def _limit(item: Any, allowed: set[str]) -> Any:
    if isinstance(item, dict):
        return {key: value for key, value in item.items() if key in allowed}
    return item


class DisclosedDataMixin:
    """For viewsets answering with children's data: purpose-limited fields and the disclosure log.

    `privacy_entity` names the entity (as in Purpose.visible_fields); `student_id_field` the key that holds
    a child's id in each item ("id" for students, "studentId" for attendance).
    """

    privacy_entity = ""
    student_id_field = "id"

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        token = getattr(request, "auth", None)
        if token is None or request.method != "GET" or response.status_code != 200:
            return response
        body = response.data
        items = body.get("data") if isinstance(body, dict) and "success" in body else body
        many = isinstance(items, list)
        rows = items if many else [items]
        self._log_disclosure(request, token, rows)
        purpose = request_purpose(request)
        allowed = (purpose.visible_fields or {}).get(self.privacy_entity) if purpose else None
        if allowed:
            allowed_set = {"id", *allowed}
            limited = [_limit(row, allowed_set) for row in rows]
            if isinstance(body, dict) and "success" in body:
                body["data"] = limited if many else limited[0]
            else:
                response.data = limited if many else limited[0]
        return response

    def _log_disclosure(self, request: Request, token: Any, rows: list[Any]) -> None:
        student_ids = sorted(
            {
                row[self.student_id_field]
                for row in rows
                if isinstance(row, dict) and row.get(self.student_id_field) is not None
            }
            | self._nested_student_ids(rows)
        )
        if not student_ids:
            return
        disclosure = Disclosure.objects.create(
            application=token.application,
            purpose=request_purpose(request),
            on_behalf_of=token.user,
            entity=self.privacy_entity,
            path=request.path[:200],  # not the query string: a search would copy names into the log
            record_count=len(rows),
        )
        DisclosedStudent.objects.bulk_create(
            [DisclosedStudent(disclosure=disclosure, student_id=student_id) for student_id in student_ids]
        )

    def _nested_student_ids(self, rows: list[Any]) -> set[int]:
        """Children named inside each item (a guardian's `children`), when the viewset says where."""
        key = getattr(self, "nested_children_field", "")
        if not key:
            return set()
        return {
            child["studentId"]
            for row in rows
            if isinstance(row, dict)
            for child in row.get(key, [])
            if child.get("studentId") is not None
        }


def disclose_rows(request: Request, rows: list[Any], *, entity: str, student_id_field: str = "id") -> list[Any]:
    """Log the disclosure of `rows` (items about children) and return them limited to the purpose's fields.

    For answers that carry children's data elsewhere than a viewset's `data` list: the change feed's records,
    the server's values in a sync conflict.
    """
    token = getattr(request, "auth", None)
    if token is None or not rows:
        return rows
    logger = DisclosedDataMixin()
    logger.privacy_entity, logger.student_id_field = entity, student_id_field
    logger._log_disclosure(request, token, rows)
    purpose = request_purpose(request)
    allowed = (purpose.visible_fields or {}).get(entity) if purpose else None
    if not allowed:
        return rows
    return [_limit(row, {"id", *allowed}) for row in rows]
