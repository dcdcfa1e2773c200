"""Benchmarks. Each measures Harmony against a baseline taken in the same run and reports the ratio, so that the
figures compare across machines; none of them asserts a time.

Run them all with `python -m bench` (or `make bench`) from the repository root; one with
`python -m bench register_spike`. Each runs in its own process against a fresh database: PostgreSQL when
`DATABASE_URL` names one (a new database is created beside it and dropped afterwards), otherwise a temporary
SQLite file.
"""
