"""The success envelope: `{"success": true, "data": ...}` around every answer that is not already one."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import JSONRenderer


class EnvelopeRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        response = (renderer_context or {}).get("response")
        already_wrapped = isinstance(data, dict) and "success" in data
        if response is not None and response.status_code == 204:
            return b""
        if not already_wrapped:
            data = {"success": True, "data": data}
        return super().render(data, accepted_media_type, renderer_context)
