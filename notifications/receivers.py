from __future__ import annotations

import datetime
from typing import Any

from notifications.services import absence_alert_send


def send_absence_alert(sender: Any, *, student_id: int, date: datetime.date, **kwargs: Any) -> None:
    absence_alert_send(student_id=student_id, day=date)
