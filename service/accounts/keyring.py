"""The server key that seals secrets at rest.

# placeholder: replaced by the connections branch
"""

from __future__ import annotations

from service.settings import Settings


class Keyring:
    def seal(self, plain: str) -> bytes:
        raise NotImplementedError("placeholder: replaced by the connections branch")

    def open(self, sealed: bytes) -> str:
        raise NotImplementedError("placeholder: replaced by the connections branch")

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls()
