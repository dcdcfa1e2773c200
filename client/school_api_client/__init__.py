"""Python client for the Harmony API."""
