"""Signals other apps listen to, so that attendance never needs to know who reacts to a mark."""

from django.dispatch import Signal

# Sent after the commit that records a child as absent without a reason; arguments: student_id, date.
unexplained_absence_recorded = Signal()
