"""The one JSON encoder of what the ledger shows: the API's answers, the projections' JSON
columns, the audit views and exports.

Money is exact: a ``Decimal`` is written as its string ("19.990"), never as a float, so
no amount loses a cent or its scale on the way out. ``UUID``, ``datetime`` and ``date`` are
written as their canonical text and ISO 8601, as orjson writes them natively (asyncpg's
own UUID type included). Anything else is
a bug in the caller and raises ``TypeError``, naming the type.

It lives beside the projections because they write JSON columns with it and may not import
the service; the service's HTTP edge and CLI import it from here. What is not shown (the
stored events' own format, service/store/transcoder.py; the spool; the token cache) keeps
its format of its own; the webhook answers and error bodies, which hold only strings and
numbers, are written by aiohttp's ``json_response`` as they always were.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, UUID):  # asyncpg's own UUID type, which orjson does not know
        return str(obj)
    if isinstance(obj, date):  # a subclass of datetime or date (the plain ones are native)
        return obj.isoformat()
    raise TypeError(f"cannot encode {type(obj).__qualname__} as JSON")


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """JSON bytes for ``value`` (indented by two spaces when ``indent``)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2 if indent else 0)


def to_json(value: Any) -> str:
    """JSON text, for a jsonb parameter or a line of output."""
    return dumps(value).decode()
