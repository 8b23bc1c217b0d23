"""The server key: every credential the service keeps is sealed with it at rest.

Store API secrets (a WooCommerce consumer secret, a Shopify Admin API access token) and
webhook signing secrets are needed in clear to sign a request or check a delivery, so they
cannot be hashed: they are encrypted with Fernet (AES-128-CBC and HMAC-SHA256) under
LEDGER_SECRET_KEY, else a key generated once into var/secret.key with mode 0600 and reused by
every ``ledger`` command and service on this machine. The key is never in the database: a
copy of the database alone reveals no secret. Losing the key loses the secrets (connect the
stores and set the signing secrets again); nothing else is lost.
"""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet, InvalidToken

from service.accounts.sealing import server_key
from service.settings import Settings


class SealedWithAnotherKeyError(Exception):
    """A stored secret was sealed with another server key: restore LEDGER_SECRET_KEY (or
    var/secret.key) as it was, or set the secret again."""


class Keyring:
    """Seals secrets for keeping, and opens them again."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        # What a secret sealed under another key verifies with (secrets.opened): random, so
        # that its deliveries are refused, never let in as if verification were off.
        self.unopenable = secrets.token_urlsafe(32)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(server_key(settings))

    def seal(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(sealed)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            # Never the sealed bytes nor anything derived from them in the message.
            raise SealedWithAnotherKeyError("the server key does not open it") from None
