"""Username and password rules, and argon2id hashing that costs the same for unknown users."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from grekko.api.problems import ApiProblem

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{2,63}")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
UNUSABLE_HASH = "!"  # users who only sign in with a wallet; no password verifies against it


def check_username(username: str) -> str:
    """The canonical (lower-case) username; 3-64 of a-z 0-9 _ . - starting with a letter/digit."""
    canonical = username.lower()
    if not USERNAME_RE.fullmatch(canonical):
        raise ApiProblem(
            422,
            "invalid_username",
            "The username is not valid",
            "3 to 64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
        )
    return canonical


def check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ApiProblem(
            422,
            "weak_password",
            "The password is not acceptable",
            f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters",
        )


class Passwords:
    """argon2id with the library's defaults (RFC 9106 low-memory profile) unless told otherwise.

    A hash of a random password is kept so that a login for an unknown user spends the
    same argon2 work as one for a known user: the response time does not say which names exist.
    At most `max_concurrent` hashes run at once (each takes 64 MiB with the defaults), so a
    burst of logins queues instead of exhausting memory across the server's thread pool.
    """

    def __init__(self, hasher: PasswordHasher | None = None, max_concurrent: int = 0) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None  # made on first use: a CLI command never needs it
        self._slots = threading.BoundedSemaphore(max_concurrent or min(4, os.cpu_count() or 1))

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        if password_hash == UNUSABLE_HASH:
            self.burn(password)
            return False
        try:
            with self._slots:
                return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """The work of one verification, for a user that does not exist."""
        if self._dummy is None:
            self._dummy = self.hash(secrets.token_urlsafe(18))
        with contextlib.suppress(VerificationError), self._slots:
            self._hasher.verify(self._dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return False
