"""Passwords: argon2id hashing off the event loop, and the policy new passwords must meet.

Policy (Cyber Essentials, ASVS V6.2, NCSC): at least ``EMON_SECURITY_PASSWORD_MIN_LENGTH`` (12) characters, up to
``EMON_SECURITY_PASSWORD_MAX_LENGTH`` (128), any characters, no composition rules, no expiry; refused when it is a
common password (a 30,000-entry deny-list, also after stripping the digits and symbols people tack on), made of one
repeated character or sequence, or contains the username.

Hashing is CPU-bound for tens of milliseconds by design; argon2-cffi releases the GIL, so it runs in worker threads
and the event loop keeps serving other requests.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.settings import Settings


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("security.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password).casefold()


_AFFIXES = re.compile(r"^[\d\W_]+|[\d\W_]+$")
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


def _repetitive(word: str) -> bool:
    if len(set(word)) <= 2:
        return True
    for size in range(1, len(word) // 2 + 1):  # "abcabcabcabc"
        if len(word) % size == 0 and word[:size] * (len(word) // size) == word:
            return True
    return any(word in seq * 3 or word in (seq * 3)[::-1] for seq in _SEQUENCES)


def password_problems(password: str, settings: Settings, *, username: str | None = None) -> list[str]:
    """Why ``password`` may not be used (empty when it may)."""
    sec = settings.security
    problems: list[str] = []
    length = len(password)
    if length < sec.password_min_length:
        problems.append(f"must be at least {sec.password_min_length} characters")
    if length > sec.password_max_length:
        problems.append(f"must be at most {sec.password_max_length} characters")
        return problems
    word = _normalise(password)
    denied = common_passwords()
    core = _AFFIXES.sub("", word)
    squashed = re.sub(r"\s+", "", word)
    if word in denied or squashed in denied or (core and core in denied) or _repetitive(squashed):
        problems.append("is too common or too easy to guess")
    if username:
        name = _normalise(username)
        parts = {name, *re.split(r"[\W_]+", name)}
        if any(len(p) >= 3 and p in word for p in parts):
            problems.append("must not contain the username")
    return problems


_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


class Passwords:
    """argon2id with the configured parameters; verification and hashing run in worker threads."""

    def __init__(self, settings: Settings) -> None:
        sec = settings.security
        self.hasher = PasswordHasher(
            time_cost=sec.argon2_time_cost,
            memory_cost=sec.argon2_memory_cost_kib,
            parallelism=sec.argon2_parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._params = (sec.argon2_time_cost, sec.argon2_memory_cost_kib, sec.argon2_parallelism)

    def hash_sync(self, password: str) -> str:
        return self.hasher.hash(password)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hasher.hash, password)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``. With no stored hash (unknown user, account without a password)
        a dummy hash is verified instead, so the answer takes as long as for a real account."""
        if not stored or not stored.startswith("$argon2"):
            dummy = _DUMMY_HASHES.get(self._params)
            if dummy is None:  # once per process and parameter set
                dummy = _DUMMY_HASHES[self._params] = await self.hash("dummy password for unknown accounts")
            await anyio.to_thread.run_sync(self._verify, dummy, password)
            return False
        return await anyio.to_thread.run_sync(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
