"""The registry of personal data: every app declares what it holds in its `privacy.py`, found here by name.

An app's `privacy.py` provides:

- `DECLARATIONS`: a list of `Declaration` (or dicts with the same keys), one per model that holds personal
  data, naming its fields, category, purpose, retention, and whether the law requires keeping it;
- `export(subject) -> dict`: everything the app holds about the subject, JSON-serialisable;
- `erase(subject) -> dict`: delete or irreversibly anonymise it, returning what was erased and what was
  kept and why (`{"erased": [...], "kept": [{"what": ..., "why": ...}]}`).

A subject is a `Subject`: a student, or a user (guardian or staff). The privacy app never imports an app's
internals: it imports each `privacy.py` module by name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.apps import apps


@dataclass(frozen=True)
class Declaration:
    model: str  # "app_label.ModelName"
    fields: tuple[str, ...]
    category: str
    purpose: str
    retention: str
    kept_by_law: bool = False
    lawful_basis: str = ""


@dataclass(frozen=True)
class Subject:
    """The person a request is about: exactly one of `student` and `user`."""

    student: Any = None
    user: Any = None
    requester: Any = None  # who asked: their own data may be named, other people's only as "another guardian"

    @property
    def label(self) -> str:
        if self.student is not None:
            return f"student {self.student.pk}"
        return f"user {self.user.pk}"


@dataclass
class Provider:
    app_label: str
    module: ModuleType
    declarations: list[Declaration] = field(default_factory=list)

    def export(self, subject: Subject) -> dict[str, Any]:
        return self.module.export(subject)

    def erase(self, subject: Subject) -> dict[str, Any]:
        return self.module.erase(subject)


def _as_declaration(item: Any) -> Declaration:
    """Read a declaration given as this module's Declaration, an app's own dataclass of the same fields, or a dict."""
    get = item.get if isinstance(item, dict) else (lambda key, default=None: getattr(item, key, default))
    return Declaration(
        model=get("model"),
        fields=tuple(get("fields")),
        category=get("category"),
        purpose=get("purpose"),
        retention=get("retention"),
        kept_by_law=bool(get("kept_by_law", False)),
        lawful_basis=get("lawful_basis", "") or "",
    )


# The order erasure runs in: apps whose data points at students and users first, students last.
ORDER = ["privacy", "notifications", "attendance", "students", "harmony"]


def providers() -> list[Provider]:
    """Return the provider of every installed app that has a `privacy.py`, in erasure order."""
    found = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.privacy")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.privacy":
                raise
            continue
        declarations = [_as_declaration(d) for d in getattr(module, "DECLARATIONS", [])]
        found.append(Provider(config.label, module, declarations))
    rank = {label: index for index, label in enumerate(ORDER)}
    return sorted(found, key=lambda p: rank.get(p.app_label, -1))


def scrub_admin_log(*objects: Any) -> int:
    """Forget what the admin log copied of `objects`: their names (`object_repr`) and the change messages.

    For a provider's erase(): the entries stay, so the log still shows that something was changed and by whom.
    """
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    ids: dict[Any, list[str]] = {}
    for obj in objects:
        ids.setdefault(ContentType.objects.get_for_model(obj), []).append(str(obj.pk))
    return sum(
        LogEntry.objects.filter(content_type=content_type, object_id__in=object_ids).update(
            object_repr=f"(erased {content_type.model})", change_message=""
        )
        for content_type, object_ids in ids.items()
    )


def declared_fields() -> dict[str, set[str]]:
    """Return every declared model label (lower case) with the fields declared for it."""
    declared: dict[str, set[str]] = {}
    for provider in providers():
        for declaration in provider.declarations:
            declared.setdefault(declaration.model.lower(), set()).update(declaration.fields)
    return declared
