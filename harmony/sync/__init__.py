"""Synchronisation plumbing shared by every synchronised entity, importing no domain app.

- `models`: the change feed (`Change`, numbered by `ChangeCounter`), `IdempotentRequest`, `SyncState`.
- `changes`: `record_changes` (services call it) and reading the feed in order without skipping.
- `registry`: the entities; `students` and `attendance` register theirs (`<app>/sync.py`) from `ready()`.
- `records`: fast readers for the fields of one record in a batch; `bulk`: a whole batch in one statement.
- `idempotency`, `state`: Idempotency-Key replays and each partner's last push and pull.
- `api`, `urls`: POST /api/sync/<entity>, GET /api/sync/changes, GET /api/sync/status.
"""
