"""The catalogue page: each product as its latest delivery describes it, the ones deleted
on the platform or in its trash marked as such."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from aggregates.lifecycle import TRASH
from projections import products
from service.http.console.auth import require_user
from service.http.console.render import render
from service.http.console.stock import ref_path
from service.http.errors import InvalidParameterError
from service.http.freshness import own_writes_applied
from service.http.keys import POOL
from service.http.params import MAX_KEY_LENGTH, decode_cursor, encode_cursor
from service.store.db import connection

PAGE_SIZE = 50


async def products_page(request: web.Request) -> web.StreamResponse:
    user_id = await require_user(request)
    after = decode_cursor(request)
    if after is not None and not (
        isinstance(after, str) and "\x00" not in after and len(after) <= MAX_KEY_LENGTH
    ):
        raise InvalidParameterError("cursor is not one this console issued")
    await own_writes_applied(request, user_id)
    async with connection(request.app[POOL]) as conn:
        items, next_after = await products.list_products(
            conn, user_id, limit=PAGE_SIZE, after=after
        )
    for item in items:
        item["path"] = ref_path(item["product_ref"])
        item["trashed"] = item["platform_status"] == TRASH
    next_link = None
    if next_after is not None:
        next_link = "/console/products?" + urlencode({"cursor": encode_cursor(next_after)})
    context = {
        "items": items,
        "next_link": next_link,
        "first_link": "/console/products" if after is not None else None,
    }
    return await render(request, "products.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/products", products_page)
