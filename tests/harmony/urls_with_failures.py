"""Harmony's URLs plus views that fail, for testing what an unhandled error answers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harmony.urls import handler404, handler500
from harmony.urls import urlpatterns as harmony_urlpatterns

SECRET_DETAIL = "connection to db-internal.harmony:5432 failed for user harmony_rw"

__all__ = ["handler404", "handler500", "urlpatterns"]


class FailingApiView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


def failing_plain_view(request: HttpRequest) -> HttpResponse:
    raise KeyError(SECRET_DETAIL)


urlpatterns = [
    path("api/failing", FailingApiView.as_view()),
    path("api/failing-plain", failing_plain_view),
    path("failing-page", failing_plain_view),
    *harmony_urlpatterns,
]
