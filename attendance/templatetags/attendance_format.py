"""How attendance figures read on a page and in a CSV file."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(rate: float | None) -> str:
    """Format a rate between 0 and 1 as a percentage with one decimal ("93.5%"); no rate reads "—"."""
    if rate is None:
        return "—"
    return f"{rate * 100:.1f}%"


FIELD_NAMES = {"code": "Mark", "minutes_late": "Minutes late", "remarks": "Remark"}


@register.filter
def field_name(name: str) -> str:
    """Name a field of a mark's change history for people ("minutes_late" reads "Minutes late")."""
    return FIELD_NAMES.get(name, name.replace("_", " ").capitalize())
