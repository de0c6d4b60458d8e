"""Password hashing with argon2-cffi (argon2id, the library's current parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 8


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password too short: at least {MIN_LENGTH} characters")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> tuple[bool, bool]:
    """(matches, needs rehash with current parameters)."""
    try:
        _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(hashed)


_DUMMY = _HASHER.hash("not a password of anyone")


def burn_time(password: str) -> None:
    """Spend a verification's time (used when the user does not exist)."""
    verify_password(_DUMMY, password)
