"""A Shopify store's Admin REST API, built from Shopify's documented shapes.

The orders are ../shared/fixtures/shopify/'s order payloads (a webhook's body is the API's
order object). ``orders.json`` and ``products.json`` filter by ``updated_at_min`` (inclusive)
and page by cursor: the ``Link`` header's ``rel="next"`` URL carries a ``page_info``, and a
request with one may send only ``limit`` (and ``fields``) beside it, or it is a 400, as
Shopify answers. ``X-Shopify-Access-Token`` must be the token the test chose: else a 401 with
Shopify's own words. ``page_cap`` (a test knob) serves at most that many items a page.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from tests.builders import FIXTURES
from tests.standins.common import StandIn

INVALID_TOKEN = (
    b'{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}'
)
NOT_FOUND = b'{"errors":"Not Found"}'
_CURSOR_ONLY = {"limit", "page_info", "fields"}


@dataclass(frozen=True)
class Record:
    id: int
    updated_at: datetime
    body: bytes


def shopify_orders() -> list[Record]:
    """One per id: of two payloads of one order (450789469, then cancelled), the newer."""
    records: dict[int, Record] = {}
    for path in sorted((FIXTURES / "shopify").glob("shopify-order-*.json")):
        value = json.loads(path.read_bytes())
        order = value.get("order", value)
        stamp = order.get("updated_at") or order["created_at"]
        body = json.dumps(order, ensure_ascii=False).encode()
        record = Record(order["id"], datetime.fromisoformat(stamp), body)
        if order["id"] not in records or records[order["id"]].updated_at < record.updated_at:
            records[order["id"]] = record
    return list(records.values())


def products_of(orders: list[Record]) -> list[Record]:
    """A product per line item's product, in the documented shape (id, title, updated_at,
    variants with their sku and inventory_quantity)."""
    found: dict[int, Record] = {}
    for order in orders:
        for line in json.loads(order.body).get("line_items", []):
            if line.get("product_id") is None or line["product_id"] in found:
                continue
            variant = {
                "id": line.get("variant_id"),
                "product_id": line["product_id"],
                "sku": line.get("sku") or "",
                "inventory_quantity": 10,
            }
            product = {
                "id": line["product_id"],
                "title": line.get("title") or "",
                "updated_at": order.updated_at.isoformat(),
                "variants": [variant],
            }
            found[line["product_id"]] = Record(
                line["product_id"], order.updated_at, json.dumps(product).encode()
            )
    return list(found.values())


class ShopifyStandIn(StandIn):
    def __init__(self, token: str, *, version: str = "2025-01", page_cap: int | None = None):
        super().__init__()
        self.token, self.version, self.page_cap = token, version, page_cap
        self.orders = shopify_orders()
        self.products = products_of(self.orders)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return web.Response(status=401, body=INVALID_TOKEN, content_type="application/json")
        prefix = f"/admin/api/{self.version}/"
        if not request.path.startswith(prefix):
            return web.Response(status=404, body=NOT_FOUND, content_type="application/json")
        name = request.path[len(prefix) :]
        if name in ("orders.json", "products.json"):
            return self._list(request, name.split(".")[0])
        if name.startswith("orders/") and name.endswith(".json"):
            wanted = name[len("orders/") : -len(".json")]
            for order in self.orders:
                if str(order.id) == wanted:
                    body = b'{"order":' + order.body + b"}"
                    return web.Response(body=body, content_type="application/json")
        return web.Response(status=404, body=NOT_FOUND, content_type="application/json")

    def _list(self, request: web.Request, resource: str) -> web.Response:
        query = dict(request.query)
        limit = query.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 250:
            return _bad("limit", "must be between 1 and 250")
        if "page_info" in query:
            extra = sorted(set(query) - _CURSOR_ONLY)
            if extra:
                return _bad(extra[0], "cannot be passed when page_info is present")
            try:
                cursor = json.loads(base64.urlsafe_b64decode(query["page_info"]))
            except ValueError:
                return _bad("page_info", "Invalid value.")
            filters, offset = cursor["filters"], cursor["offset"]
        else:
            filters, offset = {k: v for k, v in query.items() if k != "limit"}, 0
        records = self.orders if resource == "orders" else self.products
        if "updated_at_min" in filters:
            least = datetime.fromisoformat(filters["updated_at_min"])
            records = [r for r in records if r.updated_at >= least]
        if "updated_at_max" in filters:
            most = datetime.fromisoformat(filters["updated_at_max"])
            records = [r for r in records if r.updated_at <= most]
        records = sorted(records, key=lambda r: r.id)
        size = min(int(limit), self.page_cap or 250)
        shown = records[offset : offset + size]
        headers = {}
        if offset + size < len(records):
            token = json.dumps({"filters": filters, "offset": offset + size}).encode()
            page_info = base64.urlsafe_b64encode(token).decode()
            url = f"{self.url}{request.path}?limit={limit}&page_info={page_info}"
            headers["Link"] = f'<{url}>; rel="next"'
        body = b'{"' + resource.encode() + b'":[' + b",".join(r.body for r in shown) + b"]}"
        return web.Response(body=body, headers=headers, content_type="application/json")


def _bad(name: str, message: str) -> web.Response:
    body = json.dumps({"errors": {name: [message]}}).encode()
    return web.Response(status=400, body=body, content_type="application/json")
