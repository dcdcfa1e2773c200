"""Python client for the Harmony school data platform's API.

from school_api_client import SchoolAPIClient, SchoolAPIError, BatchProcessor

client = SchoolAPIClient("https://harmony.example.org", client_id, client_secret)
students = client.get_students(limit=10)
"""

from school_api_client._version import __version__
from school_api_client.auth import OAuth2Handler, TokenManager
from school_api_client.batch import BatchProcessor
from school_api_client.client import APIResponse, SchoolAPIClient, new_idempotency_key
from school_api_client.exceptions import BatchSyncError, SchoolAPIError

__all__ = [
    "APIResponse",
    "BatchProcessor",
    "BatchSyncError",
    "OAuth2Handler",
    "SchoolAPIClient",
    "SchoolAPIError",
    "TokenManager",
    "__version__",
    "new_idempotency_key",
]
