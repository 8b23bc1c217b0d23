"""The service's keys, and webhook tokens kept sealed so the console can show them again.

Each key is a setting, else one generated once into var/ (mode 0600) and reused (so every
``ledger`` command and service on this machine shares it): the session key
(LEDGER_SESSION_KEY, var/session.key) encrypts the console's session cookies; the server
key (LEDGER_SECRET_KEY, var/secret.key; keyring.py) seals every kept secret. Webhook tokens
are sealed with a key derived from the server key (HKDF, its own label), never with the key
itself; before migration 0010 they were sealed with one derived from the session key, and
``users.reseal_tokens`` moves those (at_rest.py). A token stays authenticated by its sha256
alone; the sealed copy is only what the Integrations tab reveals, and is shown only while it
still hashes to the current token (a rotation by a ``ledger`` without this key leaves
nothing to reveal until the next rotation here).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from service.settings import Settings, SettingsError

_TOKEN_LABEL = b"ledger webhook token v1"


def master_key(settings: Settings) -> bytes:
    """The Fernet key: the setting, else the key file, made once (0600) when missing."""
    return load_key(settings.session_key, "LEDGER_SESSION_KEY", settings.session_key_file)


def load_key(given: str | None, name: str, path: Path) -> bytes:
    """A Fernet key: ``given`` (the setting called ``name``), else the one in ``path``,
    made once (mode 0600) when missing. Shared with the server key (keyring.py)."""
    if given is not None:
        return _valid(given.encode(), name)
    try:
        return _valid(path.read_bytes().strip(), str(path))
    except FileNotFoundError:
        pass
    return _create(path)


def _valid(key: bytes, where: str) -> bytes:
    try:
        Fernet(key)
    except ValueError:
        raise SettingsError(
            f"{where} must be 32 url-safe base64-encoded bytes (a Fernet key)"
        ) from None
    return key


def _create(path: Path) -> bytes:
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _valid(path.read_bytes().strip(), str(path))
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    return key


class TokenSealer:
    """Seals webhook tokens for keeping, and opens them again."""

    def __init__(self, master: bytes) -> None:
        derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=_TOKEN_LABEL).derive(
            base64.urlsafe_b64decode(master)
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def open(self, sealed: bytes) -> str | None:
        """The token, or None when it was sealed under another key."""
        try:
            return self._fernet.decrypt(sealed).decode()
        except (InvalidToken, UnicodeDecodeError):
            return None


def server_key(settings: Settings) -> bytes:
    """The server key: LEDGER_SECRET_KEY, else var/secret.key, made once (0600)."""
    return load_key(settings.secret_key, "LEDGER_SECRET_KEY", settings.secret_key_file)


def sealer(settings: Settings) -> TokenSealer:
    """What seals webhook tokens: a key derived from the server key."""
    return TokenSealer(server_key(settings))


def former_sealer(settings: Settings) -> TokenSealer:
    """What sealed them before migration 0010: a key derived from the session key."""
    return TokenSealer(master_key(settings))
