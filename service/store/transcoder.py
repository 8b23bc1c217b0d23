"""Turning domain events into stored bytes and back.

``OrjsonTranscoder`` writes exactly the JSON that eventsourcing's own ``JSONTranscoder``
writes (``{"_type_": name, "_data_": ...}`` for non-JSON types, the same names for UUID,
Decimal and datetime), so the library's recorder and mapper can read our events; orjson
makes it several times faster. Money stays exact: a Decimal is stored as its string.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Mapper,
    Transcoder,
    Transcoding,
    UUIDAsHex,
)

from aggregates.values import Customer, OrderLine, ProductVariant, RefundLine

_PLAIN = (str, int, bool, type(None))


class DataclassAsDict(Transcoding):
    """A frozen value object stored as a dict of its fields, under a stable name."""

    def __init__(self, cls: type, name: str) -> None:
        self.type = cls
        self.name = name

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def value_transcodings() -> list[Transcoding]:
    """Every transcoding our events need; register them on any transcoder that reads them."""
    return [
        UUIDAsHex(),
        DecimalAsStr(),
        DatetimeAsISO(),
        DataclassAsDict(Customer, "customer"),
        DataclassAsDict(OrderLine, "order_line"),
        DataclassAsDict(RefundLine, "refund_line"),
        DataclassAsDict(ProductVariant, "product_variant"),
    ]


class UnencodableError(TypeError):
    """An event attribute has a type that no transcoding is registered for."""


class OrjsonTranscoder(Transcoder):
    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        for transcoding in value_transcodings():
            self.register(transcoding)

    def register(self, transcoding: Transcoding) -> None:
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(self._to_json(obj))

    def decode(self, data: bytes) -> Any:
        return self._from_json(orjson.loads(data))

    def _to_json(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN:
            return obj
        if isinstance(obj, str):  # a str subclass (adapters mark altered text): as text
            return str(obj)
        if kind is dict:
            return {key: self._to_json(value) for key, value in obj.items()}
        if kind is list or kind is tuple:
            return [self._to_json(item) for item in obj]
        transcoding = self.types.get(kind) or self._by_subclass(obj)
        if transcoding is None:
            raise UnencodableError(f"no transcoding for {kind.__qualname__}")
        return {"_type_": transcoding.name, "_data_": self._to_json(transcoding.encode(obj))}

    def _by_subclass(self, obj: Any) -> Transcoding | None:
        # asyncpg returns its own UUID subclass; it is stored exactly as a UUID.
        for cls, transcoding in self.types.items():
            if isinstance(obj, cls):
                return transcoding
        return None

    def _from_json(self, obj: Any) -> Any:
        # Bottom-up, as the standard library's object_hook does in JSONTranscoder.
        if type(obj) is list:
            return [self._from_json(item) for item in obj]
        if type(obj) is not dict:
            return obj
        decoded = {key: self._from_json(value) for key, value in obj.items()}
        if len(decoded) == 2 and "_type_" in decoded and "_data_" in decoded:
            return self.names[decoded["_type_"]].decode(decoded["_data_"])
        return decoded


def create_mapper() -> Mapper[Any]:
    return Mapper(transcoder=OrjsonTranscoder())
