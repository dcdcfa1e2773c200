"""`page` and `limit` paging with the total in the body and in `X-Total-Count` and `Link` headers."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    limit = serializers.IntegerField(min_value=1, default=settings.API_PAGE_SIZE)

    def __init__(self, *args: Any, max_limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["limit"] = serializers.IntegerField(
            min_value=1, max_value=max_limit, default=settings.API_PAGE_SIZE
        )


class PagePagination(BasePagination):
    max_limit = settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        params = PageParams(data=request.query_params, max_limit=self.max_limit)
        params.is_valid(raise_exception=True)
        self.page = params.validated_data["page"]
        self.limit = params.validated_data["limit"]
        self.count = queryset.count()
        self.request = request
        offset = (self.page - 1) * self.limit
        if offset >= self.count:
            return []
        return list(queryset[offset : offset + self.limit])

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.count / self.limit))

    def get_paginated_response(self, data: Any) -> Response:
        body = {
            "success": True,
            "data": data,
            "count": self.count,
            "page": self.page,
            "limit": self.limit,
            "totalPages": self.total_pages,
        }
        headers = {"X-Total-Count": str(self.count)}
        if links := self._links():
            headers["Link"] = links
        return Response(body, headers=headers)

    def _links(self) -> str:
        url = self.request.build_absolute_uri()
        pages = {"first": 1, "last": self.total_pages}
        if self.page > 1:
            pages["prev"] = min(self.page - 1, self.total_pages)
        if self.page < self.total_pages:
            pages["next"] = self.page + 1
        parts = []
        for rel in ("first", "prev", "next", "last"):
            if rel in pages:
                link = replace_query_param(replace_query_param(url, "page", pages[rel]), "limit", self.limit)
                parts.append(f'<{link}>; rel="{rel}"')
        return ", ".join(parts)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["success", "data", "count", "page", "limit", "totalPages"],
            "properties": {
                "success": {"type": "boolean", "enum": [True]},
                "data": schema,
                "count": {"type": "integer", "example": 123},
                "page": {"type": "integer", "example": 1},
                "limit": {"type": "integer", "example": 20},
                "totalPages": {"type": "integer", "example": 7},
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit, "default": 20},
            },
        ]
