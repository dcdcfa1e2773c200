"""The API client: a method per endpoint of the integration guide, each a thin call of `_make_request`."""

from __future__ import annotations

import json
import logging
import platform
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import requests

from school_api_client._version import __version__
from school_api_client.auth import OAuth2Handler, TokenManager
from school_api_client.exceptions import SchoolAPIError, retry_after_seconds

logger = logging.getLogger("school_api_client")

USER_AGENT = (
    f"school-api-client/{__version__} (python-requests/{requests.__version__}; Python {platform.python_version()})"
)
#: Methods that change nothing more when repeated, so a request that got no answer may be sent again.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Answers of an overloaded or restarting server, worth another try when the request may be repeated.
TRANSIENT_STATUSES = frozenset({502, 503, 504})
#: What a sync does with a record changed on the server since the caller's last sync.
CONFLICT_POLICIES = ("reject", "server_wins", "client_wins")


def new_idempotency_key() -> str:
    """Return a fresh, random Idempotency-Key value."""
    return str(uuid.uuid4())


class APIResponse(dict[str, Any]):
    """An answer of the API: the decoded JSON envelope as a dict, with the HTTP details as attributes.

    ``response["data"]``, ``response["count"]``... read the envelope; ``response.etag``,
    ``response.request_id``, ``response.status_code`` and ``response.headers`` read the HTTP answer.
    """

    def __init__(self, body: Mapping[str, Any], *, status_code: int, headers: Mapping[str, str]) -> None:
        super().__init__(body)
        self.status_code = status_code
        self.headers = headers

    @property
    def etag(self) -> str | None:
        """The record's ETag (send it back as `etag=` to update or delete it safely), or None."""
        return self.headers.get("ETag")

    @property
    def request_id(self) -> str | None:
        """The server's id for this request (``X-Request-ID``)."""
        return self.headers.get("X-Request-ID")


class SchoolAPIClient:
    """A client of the Harmony API for one partner application.

    Without `authenticate`, the client acts as the application itself: it obtains a client-credentials token on
    its first call. Tokens are renewed shortly before they expire, and once more when the server answers 401.
    A 429 is retried after the ``Retry-After`` the server names; a request that got no answer (or a 502, 503,
    504) is retried with backoff only when repeating it is safe: GET, PUT, DELETE, or any request that carries
    an ``Idempotency-Key``. Every failure raises `SchoolAPIError`.

    Args:
        base_url: the server's root, such as ``"https://harmony.example.org"`` (without ``/api``).
        client_id, client_secret: the partner application's credentials, given by the school.
        timeout: seconds to wait for the server on every request (or a ``(connect, read)`` pair).
        max_retries: how many times one call may be retried (rate limits, network errors, 502-504).
        max_retry_wait: the longest ``Retry-After`` the client waits for; a longer one raises the 429 at once,
            so that the caller can decide (its `SchoolAPIError.retry_after` says how long).
        backoff_factor: the first wait, in seconds, before retrying after a network error; doubled each time.
        purpose: sent as ``X-Data-Purpose`` on every API request: why the application reads or writes the data.
        scope: space-separated scopes to ask for, fewer than the application has; by default all of them.
        token_manager: where tokens are kept; share one `TokenManager` between clients of one application.
        session: the `requests.Session` to send through (proxies, certificates, adapters); one of its own by
            default, closed by `close`.
        sleep: the function that waits between retries (``time.sleep``).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float | tuple[float, float] = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        backoff_factor: float = 0.5,
        purpose: str | None = None,
        scope: str | None = None,
        token_manager: TokenManager | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.backoff_factor = backoff_factor
        self.purpose = purpose
        self.sleep = sleep
        self.session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self.oauth = OAuth2Handler(
            base_url=self.base_url,
            client_id=client_id,
            client_secret=client_secret,
            session=self.session,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            scope=scope,
            token_manager=token_manager,
        )

    def __repr__(self) -> str:
        return f"<SchoolAPIClient {self.base_url} client_id={self.oauth.client_id!r}>"

    def __enter__(self) -> SchoolAPIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (only those of a session the client created itself)."""
        if self._owns_session:
            self.session.close()

    # Authentication

    def authenticate(self, username: str, password: str, scope: str | None = None) -> dict[str, Any]:
        """Sign a user in with the password grant and return the token (``access_token``, ``refresh_token``,
        ``expires_in``...); later calls act for that user.

        Only applications the school registered for the password grant may do this.
        """
        return self.oauth.authenticate(username, password, scope)

    # Students

    def get_students(self, page: int = 1, limit: int = 20, **filters: Any) -> APIResponse:
        """Return one page of students: the envelope with ``data``, ``count``, ``page``, ``limit``, ``totalPages``.

        Filters: ``search``, ``classGroup`` (an id or a name), ``status``, ``updatedSince`` (a datetime);
        snake_case names (``class_group``, ``updated_since``) work too.
        """
        return self._make_request("GET", "/api/students", params={**filters, "page": page, "limit": limit})

    def iter_students(self, page_size: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every student matching `filters`, fetching one page of `page_size` at a time."""
        return self._iter_pages("/api/students", filters, page_size)

    def get_student(self, student_id: int | str) -> APIResponse:
        """Return one student (``response["data"]``); ``response.etag`` is its version, for `update_student`."""
        return self._make_request("GET", f"/api/students/{student_id}")

    def create_student(self, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> APIResponse:
        """Create a student from camelCase fields (``rollNumber``, ``firstName``...); the answer carries its ETag."""
        return self._make_request("POST", "/api/students", data=data, headers=_idempotency(idempotency_key))

    def update_student(self, student_id: int | str, data: Mapping[str, Any], etag: str | None = None) -> APIResponse:
        """Change the given fields of a student (PATCH).

        With `etag` (from `get_student`, `create_student` or a previous update) the change applies only if
        nobody changed the student since: otherwise `SchoolAPIError` with status 412, ``"precondition_failed"``.
        """
        return self._make_request("PATCH", f"/api/students/{student_id}", data=data, headers=_if_match(etag))

    def replace_student(self, student_id: int | str, data: Mapping[str, Any], etag: str | None = None) -> APIResponse:
        """Replace a student's fields (PUT): the fields not given go back to their defaults. See `update_student`."""
        return self._make_request("PUT", f"/api/students/{student_id}", data=data, headers=_if_match(etag))

    def delete_student(self, student_id: int | str, etag: str | None = None) -> APIResponse:
        """Delete a student, leaving a tombstone with its roll number (which cannot be reused)."""
        return self._make_request("DELETE", f"/api/students/{student_id}", headers=_if_match(etag))

    # Guardians and guardianships

    def get_guardians(self, page: int = 1, limit: int = 20, **filters: Any) -> APIResponse:
        """Return one page of guardians, each with the ``children`` the caller may see."""
        return self._make_request("GET", "/api/guardians", params={**filters, "page": page, "limit": limit})

    def iter_guardians(self, page_size: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every guardian, fetching one page of `page_size` at a time."""
        return self._iter_pages("/api/guardians", filters, page_size)

    def get_guardian(self, guardian_id: int | str) -> APIResponse:
        """Return one guardian."""
        return self._make_request("GET", f"/api/guardians/{guardian_id}")

    def create_guardian(self, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> APIResponse:
        """Create a guardian (``firstName``, ``lastName``, ``email``, ``phone``, ``address``) and their account."""
        return self._make_request("POST", "/api/guardians", data=data, headers=_idempotency(idempotency_key))

    def update_guardian(self, guardian_id: int | str, data: Mapping[str, Any]) -> APIResponse:
        """Change the given fields of a guardian (PATCH)."""
        return self._make_request("PATCH", f"/api/guardians/{guardian_id}", data=data)

    def delete_guardian(self, guardian_id: int | str) -> APIResponse:
        """Remove a guardian."""
        return self._make_request("DELETE", f"/api/guardians/{guardian_id}")

    def get_guardianships(self, page: int = 1, limit: int = 20, **filters: Any) -> APIResponse:
        """Return one page of guardianships (the links between guardians and students)."""
        return self._make_request("GET", "/api/guardianships", params={**filters, "page": page, "limit": limit})

    def get_guardianship(self, guardianship_id: int | str) -> APIResponse:
        """Return one guardianship."""
        return self._make_request("GET", f"/api/guardianships/{guardianship_id}")

    def create_guardianship(self, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> APIResponse:
        """Link a guardian to a student (``guardianId``, ``studentId``, ``relationship``...)."""
        return self._make_request("POST", "/api/guardianships", data=data, headers=_idempotency(idempotency_key))

    def update_guardianship(self, guardianship_id: int | str, data: Mapping[str, Any]) -> APIResponse:
        """Change a guardianship's ``relationship``, ``parentalResponsibility`` or ``primaryContact`` (PATCH)."""
        return self._make_request("PATCH", f"/api/guardianships/{guardianship_id}", data=data)

    def delete_guardianship(self, guardianship_id: int | str) -> APIResponse:
        """Unlink a guardian from a student."""
        return self._make_request("DELETE", f"/api/guardianships/{guardianship_id}")

    # Attendance

    def create_attendance(self, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> APIResponse:
        """Record attendance (``studentId``, ``date``, ``status``, ``remarks``)."""
        return self._make_request("POST", "/api/attendance", data=data, headers=_idempotency(idempotency_key))

    def get_attendance(self, page: int = 1, limit: int = 20, **filters: Any) -> APIResponse:
        """Return one page of attendance records; filter with ``date``, ``studentId`` (``student_id``)..."""
        return self._make_request("GET", "/api/attendance", params={**filters, "page": page, "limit": limit})

    def get_attendance_by_date_range(
        self, start_date: str | date, end_date: str | date, page: int = 1, limit: int = 20, **filters: Any
    ) -> APIResponse:
        """Return one page of the attendance records from `start_date` to `end_date`, both included."""
        return self.get_attendance(page, limit, **filters, startDate=start_date, endDate=end_date)

    def iter_attendance(self, page_size: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every attendance record matching `filters`, one page of `page_size` at a time."""
        return self._iter_pages("/api/attendance", filters, page_size)

    # Notifications

    def get_notifications(self, page: int = 1, limit: int = 20, **filters: Any) -> APIResponse:
        """Return one page of notifications."""
        return self._make_request("GET", "/api/notifications", params={**filters, "page": page, "limit": limit})

    def iter_notifications(self, page_size: int = 100, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every notification matching `filters`, one page of `page_size` at a time."""
        return self._iter_pages("/api/notifications", filters, page_size)

    def create_notification(self, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> APIResponse:
        """Send one notification (``title``, ``message``, ``type``, ``priority``, ``recipientId``)."""
        return self._make_request("POST", "/api/notifications", data=data, headers=_idempotency(idempotency_key))

    def send_bulk_notifications(self, data: Mapping[str, Any], *, idempotency_key: str | None = None) -> APIResponse:
        """Send one notification to many recipients (``title``, ``message``, ``recipientIds``)."""
        return self._make_request("POST", "/api/notifications/bulk", data=data, headers=_idempotency(idempotency_key))

    # Synchronisation

    def sync_students(
        self,
        students: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None = None,
        on_conflict: str | None = None,
        idempotency_key: str | None = None,
    ) -> APIResponse:
        """Create or update students by roll number in one request; return the per-record results.

        ``response["data"]["results"]`` lists ``{"index", "status", "id", "field", "reason"}`` per record
        (status ``created``, ``updated``, ``unchanged``, ``conflict`` or ``error``) and
        ``response["data"]["totals"]`` the counts. A record changed on the server since `last_sync_timestamp`
        is a conflict, settled by `on_conflict`: ``"reject"`` (the server's default), ``"server_wins"`` or
        ``"client_wins"``. The request always carries an Idempotency-Key (a new one unless you give one), so a
        retry after a lost answer is never applied twice.
        """
        body = _sync_body("students", students, last_sync_timestamp, on_conflict)
        key = idempotency_key or new_idempotency_key()
        return self._make_request("POST", "/api/sync/students", data=body, headers=_idempotency(key))

    def sync_attendance(
        self,
        records: Iterable[Mapping[str, Any]],
        last_sync_timestamp: str | datetime | None = None,
        on_conflict: str | None = None,
        idempotency_key: str | None = None,
    ) -> APIResponse:
        """Create or update attendance records (by student, date and session) in one request. See `sync_students`."""
        body = _sync_body("attendanceRecords", records, last_sync_timestamp, on_conflict)
        key = idempotency_key or new_idempotency_key()
        return self._make_request("POST", "/api/sync/attendance", data=body, headers=_idempotency(key))

    def get_sync_status(self) -> dict[str, Any]:
        """Return the sync status itself (not the envelope): ``status["lastSync"]["students"]``..."""
        data = self._make_request("GET", "/api/sync/status").get("data")
        return data if isinstance(data, dict) else {}

    # Privacy

    def request_export(
        self, data: Mapping[str, Any] | None = None, *, idempotency_key: str | None = None
    ) -> APIResponse:
        """Ask for an export of a person's data (GDPR article 20)."""
        return self._make_request("POST", "/api/privacy/export", data=data, headers=_idempotency(idempotency_key))

    def request_deletion(
        self, data: Mapping[str, Any] | None = None, *, idempotency_key: str | None = None
    ) -> APIResponse:
        """Ask for a person's data to be erased (GDPR article 17)."""
        return self._make_request("POST", "/api/privacy/delete", data=data, headers=_idempotency(idempotency_key))

    def get_consent(self, **filters: Any) -> APIResponse:
        """Return the consent decisions the caller may see (filter with ``studentId``...)."""
        return self._make_request("GET", "/api/privacy/consent", params=filters)

    def update_consent(self, data: Mapping[str, Any]) -> APIResponse:
        """Record consent decisions (``{"dataProcessing": True, "marketing": False, ...}``)."""
        return self._make_request("PUT", "/api/privacy/consent", data=data)

    def get_retention_policy(self) -> APIResponse:
        """Return how long each category of personal data is kept."""
        return self._make_request("GET", "/api/privacy/retention")

    # The transport

    def _make_request(
        self,
        method: str,
        path: str,
        data: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> APIResponse:
        """Send one API request and return the decoded answer; raise `SchoolAPIError` for an error answer.

        `path` is relative to `base_url` (``"/api/privacy/export"``). `data` is sent as JSON (dates and
        timezone-aware datetimes in ISO 8601), `params` as the query string (snake_case names become
        camelCase, None values are left out). Adds the token, the User-Agent and ``X-Data-Purpose``; renews
        the token once on a 401; waits and retries as the class describes.
        """
        method = method.upper()
        url = self._url(path)
        request_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.purpose:
            request_headers["X-Data-Purpose"] = self.purpose
        request_headers.update(headers or {})
        body = None
        if data is not None:
            body = json.dumps(data, default=_json_default, allow_nan=False).encode()
            request_headers["Content-Type"] = "application/json"
        may_repeat = method in IDEMPOTENT_METHODS or any(h.lower() == "idempotency-key" for h in request_headers)
        query = _query(params)

        retries = 0
        renewed = False
        access_token = self.oauth.get_access_token()
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=query,
                    data=body,
                    headers={**request_headers, "Authorization": f"Bearer {access_token}"},
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not may_repeat or retries >= self.max_retries:
                    raise SchoolAPIError(f"Network error: {method} {url}: {exc}") from exc
                retries += 1
                wait = self._backoff(retries)
                logger.info("No answer to %s %s; retry %d in %.1f s", method, path, retries, wait)
                self.sleep(wait)
                continue
            except requests.RequestException as exc:
                raise SchoolAPIError(f"Request failed: {method} {url}: {exc}") from exc

            status = response.status_code
            if status == 401 and not renewed:
                renewed = True
                logger.info("%s %s answered 401; renewing the token and trying once more", method, path)
                access_token = self.oauth.renew_rejected(access_token)
                continue
            if status == 429 or (status in TRANSIENT_STATUSES and may_repeat):
                retry_after = retry_after_seconds(response)
                wait = retry_after if retry_after is not None else self._backoff(retries + 1)
                if retries >= self.max_retries or wait > self.max_retry_wait:
                    raise SchoolAPIError.from_response(response)
                retries += 1
                logger.info("%s %s answered %d; retry %d in %.1f s", method, path, status, retries, wait)
                self.sleep(wait)
                access_token = self.oauth.get_access_token()  # the wait may have outlived the token
                continue
            if status >= 400:
                raise SchoolAPIError.from_response(response)
            return _decode(response)

    def _url(self, path: str) -> str:
        if "://" in path:
            # Full URLs (a Link header's) are followed only on this server: the token must not leak elsewhere.
            if not path.startswith(self.base_url + "/"):
                raise ValueError(f"{path} is not on {self.base_url}")
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _backoff(self, retry: int) -> float:
        return float(min(self.backoff_factor * 2 ** (retry - 1), self.max_retry_wait))

    def _iter_pages(self, path: str, filters: Mapping[str, Any], page_size: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self._make_request("GET", path, params={**filters, "page": page, "limit": page_size})
            items = answer.get("data") or []
            yield from items
            total_pages = answer.get("totalPages")
            last = page >= total_pages if isinstance(total_pages, int) else len(items) < page_size
            if last or not items:
                return
            page += 1


def _decode(response: requests.Response) -> APIResponse:
    if response.status_code == 204 or not response.content:
        return APIResponse({}, status_code=response.status_code, headers=response.headers)
    try:
        body = response.json()
    except ValueError:
        body = {"success": True, "data": response.text}
    if not isinstance(body, dict):
        body = {"success": True, "data": body}
    return APIResponse(body, status_code=response.status_code, headers=response.headers)


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _if_match(etag: str | None) -> dict[str, str]:
    return {"If-Match": etag} if etag else {}


def _sync_body(
    name: str,
    records: Iterable[Mapping[str, Any]],
    last_sync_timestamp: str | datetime | None,
    on_conflict: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {name: list(records)}
    if last_sync_timestamp is not None:
        body["lastSyncTimestamp"] = last_sync_timestamp
    if on_conflict is not None:
        if on_conflict not in CONFLICT_POLICIES:
            raise ValueError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}")
        body["onConflict"] = on_conflict
    return body


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest) if head else name


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (date, datetime)):
            value = _json_default(value)
        query[_camel(name)] = value
    return query


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"Give a timezone-aware datetime, not {value!r}: the server cannot guess its zone.")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")
