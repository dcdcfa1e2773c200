"""A fast hasher for OAuth2 client secrets.

Client secrets are long random strings, not passwords a person chose: a salted SHA-256 is already beyond
brute force, while PBKDF2 with a million rounds would cost every token request about a third of a second of
CPU. User passwords keep Django's default hasher.
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "client_secret_sha256"
    iterations = 1
