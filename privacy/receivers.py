"""Keep the derived consent states true to the ledger when the people who may decide for a child change."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from privacy.consent import refresh_states_of
from students.models import Guardianship, Student


def guardianship_changed(sender: type[Guardianship], instance: Guardianship, **kwargs: Any) -> None:
    """A guardian linked, unlinked, or given or relieved of parental responsibility: derive the states again.

    Not when the child itself is being deleted: its consent goes with it.
    """
    origin = kwargs.get("origin")
    if isinstance(origin, Student) or (isinstance(origin, QuerySet) and origin.model is Student):
        return
    refresh_states_of(instance.student_id)
