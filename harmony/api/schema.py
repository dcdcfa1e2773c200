"""OpenAPI post-processing: describe the envelope that every answer really has."""

from __future__ import annotations

from typing import Any

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "error", "code", "details", "requestId"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {"type": "string", "example": "Validation error"},
        "code": {"type": "string", "example": "validation_error"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                    "code": {"type": "string", "nullable": True},
                },
            },
        },
        "requestId": {"type": "string", "nullable": True},
    },
}

ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "No valid token",
    "403": "The token lacks the scope, or the caller the role",
    "404": "Not found, or not visible to the caller",
    "429": "Rate limited; see Retry-After",
}


def _wrap(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    resolved = schema
    if schema.get("$ref", "").startswith("#/components/schemas/"):
        # A paginated list is a component that already has the envelope (see PagePagination): wrapping its
        # reference again would document {success, data: {success, data, count, ...}}.
        resolved = components.get(schema["$ref"].rsplit("/", 1)[1], {})
    if "success" in resolved.get("properties", {}):
        return schema
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"type": "boolean", "enum": [True]}, "data": schema},
    }


def wrap_in_envelope(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorEnvelope"] = ERROR_ENVELOPE
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json")
                if status.startswith("2") and content and "schema" in content:
                    content["schema"] = _wrap(content["schema"], components)
            for status, description in ERROR_STATUSES.items():
                operation["responses"].setdefault(status, {"description": description, "content": error_ref})
    return result
