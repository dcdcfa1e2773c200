"""Shared plumbing: health checks, request ids and JSON logs, the OpenAPI schema and docs, errors, headers."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from openapi_spec_validator import validate

from harmony.logging import JsonFormatter
from tests.harmony.urls_with_failures import SECRET_DETAIL

pytestmark = pytest.mark.django_db

CDN_HINTS = ("cdn", "unpkg", "jsdelivr", "googleapis", "cloudflare")


class TestHealth:
    def test_healthz_says_the_process_is_alive(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "no-cache" in response["Cache-Control"]

    def test_readyz_checks_the_database_the_cache_and_the_task_queue(self, client):
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": True, "cache": True, "tasks": True}}

    def test_readyz_answers_503_when_the_task_backend_cannot_load(self, client, settings):
        from asgiref.local import Local
        from django.tasks import task_backends

        saved = task_backends._connections
        settings.TASKS = {"default": {"BACKEND": "no.such.Backend"}}
        task_backends.__dict__.pop("settings", None)  # the handler caches its settings and backends
        task_backends._connections = Local(task_backends.thread_critical)
        try:
            response = client.get("/readyz")
        finally:
            task_backends.__dict__.pop("settings", None)
            task_backends._connections = saved
        assert response.status_code == 503
        assert response.json()["checks"]["tasks"] is False

    @override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}})
    def test_readyz_answers_503_when_the_cache_does_not_keep_values(self, client):
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": True, "cache": False, "tasks": True}

    def test_health_checks_are_not_redirected_to_https(self, client, settings):
        settings.SECURE_SSL_REDIRECT = True
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/").status_code == 301


class TestRequestIds:
    def test_a_valid_request_id_is_echoed(self, client):
        response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.DEF_456")
        assert response["X-Request-ID"] == "abc-123.DEF_456"

    @pytest.mark.parametrize(
        "offered",
        ["", "short", "x" * 65, "has spaces in it", "new\nline-injection", "<script>alert(1)</script>"],
        ids=["empty", "too-short", "too-long", "spaces", "newline", "markup"],
    )
    def test_an_invalid_request_id_is_replaced_with_a_generated_one(self, client, offered):
        response = client.get("/healthz", HTTP_X_REQUEST_ID=offered)
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])

    def test_each_request_gets_its_own_id(self, client):
        assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]

    def test_error_envelopes_carry_the_request_id(self, client):
        response = client.get("/api/students", HTTP_X_REQUEST_ID="trace-0001-abcd")
        assert response.status_code == 401
        assert response.json()["requestId"] == "trace-0001-abcd"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Capture what the configured JSON console handler writes."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestLogs:
    def test_each_request_writes_one_json_line_with_its_id_and_duration(self, client, log_lines):
        response = client.get("/healthz", HTTP_X_REQUEST_ID="trace-0002-abcd")
        lines = [r for r in records(log_lines) if r["logger"] == "harmony.requests"]
        assert len(lines) == 1
        line = lines[0]
        assert line["requestId"] == response["X-Request-ID"] == "trace-0002-abcd"
        assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
        assert isinstance(line["durationMs"], float)
        assert line["level"] == "INFO" and line["time"]

    def test_lines_written_during_a_request_carry_its_id(self, client, log_lines, settings):
        settings.ROOT_URLCONF = "tests.harmony.urls_with_failures"
        response = client.get("/api/failing", HTTP_X_REQUEST_ID="trace-0003-abcd")
        lines = records(log_lines)
        assert {line["requestId"] for line in lines} == {"trace-0003-abcd"}
        assert any(line["logger"] == "harmony.api" and "exception" in line for line in lines)
        assert response["X-Request-ID"] == "trace-0003-abcd"

    def test_lines_outside_a_request_have_no_id(self, log_lines):
        logging.getLogger("harmony.tasks").warning("outside")
        assert records(log_lines)[-1]["requestId"] is None


def fetch_schema(client: Client, path: str = "/api/schema/", **headers: Any) -> dict[str, Any]:
    response = client.get(path, **headers)
    assert response.status_code == 200, response.content[:500]
    assert "json" in response["Content-Type"]
    return response.json()


class TestOpenApi:
    @pytest.mark.parametrize(
        ("path", "headers"),
        [
            ("/api/schema/?format=json", {}),
            ("/api/schema?format=json", {}),
            ("/api/schema/", {"HTTP_ACCEPT": "application/vnd.oai.openapi+json"}),
        ],
    )
    def test_the_schema_is_valid_openapi_3(self, client, path, headers):
        schema = fetch_schema(client, path, **headers)
        assert schema["openapi"].startswith("3.")
        validate(schema)

    def test_the_schema_needs_no_token(self, client):
        assert client.get("/api/schema/?format=json").status_code == 200

    def test_it_documents_the_students_guardians_and_guardianships(self, client):
        paths = fetch_schema(client, "/api/schema/?format=json")["paths"]
        for resource in ("students", "guardians", "guardianships"):
            assert any(p.rstrip("/") == f"/api/{resource}" for p in paths), sorted(paths)
            assert any(p.startswith(f"/api/{resource}/{{") for p in paths), sorted(paths)

    def test_it_declares_the_error_envelope(self, client):
        schema = fetch_schema(client, "/api/schema/?format=json")
        envelope = schema["components"]["schemas"]["ErrorEnvelope"]
        assert set(envelope["required"]) == {"success", "error", "code", "details", "requestId"}
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                for status in ("400", "401", "403", "404", "429"):
                    content = operation["responses"][status]["content"]["application/json"]
                    assert content["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}

    def test_every_success_answer_is_wrapped_once_in_success_and_data(self, client):
        schema = fetch_schema(client, "/api/schema/?format=json")
        checked = 0
        for path, path_item in schema["paths"].items():
            for method, operation in path_item.items():
                for status, response in operation["responses"].items():
                    content = response.get("content", {}).get("application/json")
                    if not status.startswith("2") or not content:
                        continue
                    wrapped = resolve(schema, content["schema"])
                    assert {"success", "data"} <= set(wrapped["required"]), (method, path, status)
                    assert wrapped["properties"]["success"]["enum"] == [True]
                    data = resolve(schema, wrapped["properties"]["data"])
                    assert "success" not in data.get("properties", {}), (method, path, status)
                    checked += 1
        assert checked >= 9  # list, create, retrieve, update, partial update for each resource at least

    def test_lists_document_their_paging_fields_and_parameters(self, client):
        schema = fetch_schema(client, "/api/schema/?format=json")
        for resource in ("students", "guardians", "guardianships"):
            operation = next(item["get"] for path, item in schema["paths"].items() if path == f"/api/{resource}/")
            listing = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
            assert {"success", "data", "count", "page", "limit", "totalPages"} <= set(listing["required"])
            assert resolve(schema, listing["properties"]["data"])["type"] == "array"
            assert {"page", "limit"} <= {parameter["name"] for parameter in operation["parameters"]}


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref to its component."""
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


class TestDocs:
    def test_the_docs_page_loads_its_scripts_from_harmony_itself(self, client):
        response = client.get("/api/docs/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
        assert any(src.endswith("swagger-ui-bundle.js") for src in sources), sources
        for source in sources:
            assert source.startswith("/") and not source.startswith("//"), source
            assert not any(hint in source for hint in CDN_HINTS), source
        assert "http://" not in html and "https://" not in html

    def test_the_docs_scripts_ship_with_harmony(self, client, settings):
        html = client.get("/api/docs/").content.decode()
        for source in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
            if source.startswith(settings.STATIC_URL) or source.startswith("/" + settings.STATIC_URL):
                # Static files: found by the finders, so collectstatic ships them (tests run without serving them).
                assert finders.find(source.split(settings.STATIC_URL, 1)[1]), source
            else:
                response = client.get(source)
                assert response.status_code == 200, source
                assert "javascript" in response["Content-Type"], source

    def test_the_docs_answer_without_a_trailing_slash_too(self, client):
        assert client.get("/api/docs").status_code == 200


class TestUnhandledErrors:
    @pytest.fixture(autouse=True)
    def _failing_views(self, settings: Any) -> None:
        settings.ROOT_URLCONF = "tests.harmony.urls_with_failures"

    def assert_nothing_leaked(self, response: Any) -> None:
        text = response.content.decode()
        for leak in (SECRET_DETAIL, "db-internal", "RuntimeError", "KeyError", "Traceback", "urls_with_failures"):
            assert leak not in text, leak

    def test_an_error_in_an_api_view_answers_500_in_the_envelope(self):
        response = Client(raise_request_exception=False).get("/api/failing", HTTP_X_REQUEST_ID="trace-0500-abcd")
        assert response.status_code == 500
        body = response.json()
        assert body == {
            "success": False,
            "error": "Internal server error",
            "code": "internal_error",
            "details": [],
            "requestId": "trace-0500-abcd",
        }
        self.assert_nothing_leaked(response)

    def test_an_error_in_a_plain_view_under_the_api_answers_in_the_envelope_too(self):
        response = Client(raise_request_exception=False).get("/api/failing-plain")
        assert response.status_code == 500
        body = response.json()
        assert (body["success"], body["code"]) == (False, "internal_error")
        assert body["requestId"] == response["X-Request-ID"]
        self.assert_nothing_leaked(response)

    def test_an_error_in_a_page_answers_the_500_page(self):
        response = Client(raise_request_exception=False).get("/failing-page")
        assert response.status_code == 500
        assert response["Content-Type"].startswith("text/html")
        self.assert_nothing_leaked(response)

    def test_an_unknown_api_path_answers_404_in_the_envelope(self, client):
        response = client.get("/api/no-such-thing")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


class TestSecurityHeaders:
    @pytest.mark.parametrize(
        "path", ["/", "/staff/login/", "/family/login/", "/api/docs/", "/api/students", "/healthz"]
    )
    def test_pages_carry_the_security_headers(self, client, path):
        response = client.get(path)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"

    def test_session_and_csrf_cookies_are_http_only(self, client):
        response = client.get("/staff/login/")
        assert response.cookies["csrftoken"]["httponly"]
