"""A WooCommerce store's REST API v3, serving the captured answers of
../shared/fixtures/woocommerce-rest/ as the store stood after its second day.

It checks what the real store checks on plain HTTP: OAuth 1.0a one-legged signatures
(HMAC-SHA1 or HMAC-SHA256, the ``oauth_*`` parameters in the query or an ``Authorization:
OAuth`` header), over the site's home URL, timestamps within 15 minutes, the nonce of each
second remembered and refused again. HTTP Basic and keys in the query are ignored over HTTP:
the request runs as a guest and is refused 401 ``woocommerce_rest_cannot_view``. The error
bodies are the store's own bytes. Orders: 19-31 as 047-050 show them (25 deleted for good: the
404 of 026); products: 033 with 051's newer versions; the variations of 15: 052.

``page_cap`` (a test knob, not the store's) serves at most that many items a page, so paging
can be tested without hundreds of orders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from urllib.parse import parse_qsl, quote, urlencode

from aiohttp import web

from service.adapters.json_slices import array_items
from tests.builders import FIXTURES
from tests.standins.common import StandIn

REST = FIXTURES / "woocommerce-rest"
API = "/wp-json/wc/v3"
WINDOW = 15 * 60  # seconds a timestamp may be off
_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_DIGESTS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
_enc = partial(quote, safe="-._~")


def fixture(seq: str, suffix: str = ".body") -> bytes:
    (path,) = REST.glob(f"{seq}-*{suffix}")
    return path.read_bytes()


def fixture_headers(seq: str) -> dict[str, str]:
    return dict(json.loads(fixture(seq, ".json"))["headers"])


@dataclass(frozen=True)
class Entry:
    id: int
    status: str
    modified: datetime  # site time (UTC for this store)
    modified_gmt: datetime
    body: bytes  # the exact bytes the store wrote for it


def entries(*seqs: str) -> list[Entry]:
    found = []
    for seq in seqs:
        for item in array_items(fixture(seq)):
            value = json.loads(item)
            found.append(
                Entry(
                    id=value["id"],
                    status=value["status"],
                    modified=datetime.fromisoformat(value["date_modified"]),
                    modified_gmt=datetime.fromisoformat(value["date_modified_gmt"]),
                    body=item,
                )
            )
    return found


def wc_base_string(method: str, site_url: str, path: str, params: list[tuple[str, str]]) -> str:
    """As WooCommerce builds it: the home URL and the path below it, the parameters (but the
    signature) sorted by name as strcmp does, each name and value encoded, then the lot."""
    url = site_url if path in ("", "/") else site_url + path
    pairs = sorted((k, v) for k, v in params if k != "oauth_signature")
    joined = "%26".join(f"{_enc(k)}%3D{_enc(_enc(v))}" for k, v in pairs)
    return f"{method.upper()}&{_enc(url)}&{joined}"


def _error(seq: str, status: int) -> web.Response:
    return web.Response(status=status, body=fixture(seq), content_type="application/json")


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> web.Response:
    body = {"code": code, "message": message, "data": {"status": 401}}
    return web.Response(status=401, text=json.dumps(body), content_type="application/json")


class WooCommerceStandIn(StandIn):
    def __init__(
        self,
        key: str,
        secret: str,
        *,
        page_cap: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.key, self.secret, self.page_cap, self.clock = key, secret, page_cap, clock
        self.orders = entries("047", "048", "049", "050")
        self.trash: list[Entry] = []
        newer = {e.id: e for e in entries("051")}
        self.products = [newer.get(e.id, e) for e in entries("033")]
        self.variations = {15: entries("052")}
        self.nonces: dict[int, str] = {}  # timestamp -> the last nonce used in that second

    def trash_order(self, order_id: int) -> None:
        """Move an order to the trash as 055 shows order 20 there."""
        (trashed,) = [e for e in entries("055") if e.id == order_id]
        self.orders = [e for e in self.orders if e.id != order_id]
        self.trash.append(trashed)

    def delete_order(self, order_id: int) -> None:
        self.orders = [e for e in self.orders if e.id != order_id]

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if request.method != "GET" or not request.path.startswith(API + "/"):
            return _error("041", 404)
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        parts = request.path[len(API) + 1 :].split("/")
        if parts == ["orders"]:
            status = request.query.get("status", "any")
            listed = self.trash if status == "trash" else self.orders
            if status not in ("any", "trash"):
                listed = [e for e in self.orders if e.status == status]
            return self._list(request, listed, past_last_empty=True)
        if len(parts) == 2 and parts[0] == "orders":
            found = [e for e in self.orders + self.trash if str(e.id) == parts[1]]
            if not found:
                return web.Response(
                    status=404, body=fixture("026"), content_type="application/json"
                )
            return web.Response(body=found[0].body, content_type="application/json")
        if parts == ["products"]:
            return self._list(request, self.products, past_last_empty=False)
        if len(parts) == 3 and parts[0] == "products" and parts[2] == "variations":
            listed = self.variations.get(int(parts[1]) if parts[1].isdigit() else -1, [])
            return self._list(request, listed, past_last_empty=False)
        return _error("041", 404)

    def _authenticate(self, request: web.Request) -> web.Response | None:
        params = list(parse_qsl(request.query_string, keep_blank_values=True))
        header = request.headers.get("Authorization", "")
        if header.startswith("OAuth "):
            params += [
                (k.strip(), v.strip().strip('"'))
                for k, _, v in (p.partition("=") for p in header[6:].split(","))
            ]
        oauth = {k: v for k, v in params if k.startswith("oauth_")}
        if not oauth:  # Basic, or keys in the query, over HTTP: a guest
            return _error("012", 401)
        missing = [name for name in _REQUIRED if name not in oauth]
        if missing:
            return _auth_error(
                f"Missing OAuth parameters {', '.join(missing)}",
                "woocommerce_rest_authentication_missing_parameter",
            )
        if oauth["oauth_consumer_key"] != self.key:
            return _error("006", 401)
        digest = _DIGESTS.get(oauth["oauth_signature_method"])
        if digest is None:
            return _auth_error("Invalid signature - signature method is invalid.")
        text = wc_base_string(request.method, self.url, request.path, params)
        mac = hmac.new(f"{self.secret}&".encode(), text.encode(), digest).digest()
        given = oauth["oauth_signature"].replace(" ", "+")
        if not hmac.compare_digest(base64.b64encode(mac).decode(), given):
            return _error("005", 401)
        now = int(self.clock())
        stamp = int(oauth["oauth_timestamp"]) if oauth["oauth_timestamp"].isdigit() else 0
        if not now - WINDOW <= stamp <= now + WINDOW:
            return _error("008", 401)
        if oauth["oauth_nonce"] in self.nonces.values():
            return _error("045", 401)
        self.nonces[stamp] = oauth["oauth_nonce"]
        self.nonces = {t: n for t, n in self.nonces.items() if t >= now - WINDOW}
        return None

    def _list(
        self, request: web.Request, listed: list[Entry], *, past_last_empty: bool
    ) -> web.Response:
        query = request.query
        per_page = query.get("per_page", "10")
        if not per_page.isdigit() or not 1 <= int(per_page) <= 100:
            return _error("039", 400)
        page = int(query["page"]) if query.get("page", "").isdigit() else 1
        gmt = query.get("dates_are_gmt") == "true"
        bounds = {}
        for name in ("modified_after", "modified_before"):
            if name in query:
                try:
                    bounds[name] = datetime.fromisoformat(query[name]).replace(tzinfo=None)
                except ValueError:
                    return _error("040", 400)
        chosen = [
            e
            for e in listed
            if ("modified_after" not in bounds or _when(e, gmt) > bounds["modified_after"])
            and ("modified_before" not in bounds or _when(e, gmt) < bounds["modified_before"])
        ]
        if query.get("orderby") == "modified":
            chosen.sort(key=lambda e: (_when(e, gmt), e.id), reverse=query.get("order") != "asc")
        size = min(int(per_page), self.page_cap or 100)
        shown = chosen[(page - 1) * size : page * size]
        total, pages = len(chosen), math.ceil(len(chosen) / size)
        if not shown and past_last_empty:
            total = pages = 0
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = [f'<{self._page_url(request, page + 1)}>; rel="next"'] if page < pages else []
        if page > 1:
            links.insert(0, f'<{self._page_url(request, page - 1)}>; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        body = b"[" + b",".join(e.body for e in shown) + b"]"
        return web.Response(body=body, headers=headers, content_type="application/json")

    def _page_url(self, request: web.Request, page: int) -> str:
        """As the store writes it: every request parameter (its oauth_* too), page changed."""
        params = [(k, str(page) if k == "page" else v) for k, v in request.query.items()]
        if "page" not in request.query:
            params.append(("page", str(page)))
        return f"{self.url}{request.path}?{urlencode(params)}&status%5B0%5D=any&context=view"


def _when(entry: Entry, gmt: bool) -> datetime:
    return entry.modified_gmt if gmt else entry.modified
