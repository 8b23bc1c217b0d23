"""A bounded schemathesis run: every query endpoint, with a valid API key, against the
OpenAPI document. No answer is a 5xx, and every answer is documented (its status, its
content type, its body's schema), for data that fits the document and for data that does not.

The operations are the document's GET routes that the app serves, so a documented route
another branch adds is run as soon as it is merged. A path that names a row (a sale id, a
product reference) is run once more naming rows that exist: a random sale id finds nothing.

The app serves from this test's event loop while schemathesis, which is synchronous, sends
its requests from a worker thread. Bounded: 25 examples per operation and generation mode,
derandomized (a red run is red again on a rerun), no deadline (a shared machine is not a
benchmark): about 10 s here. Random runs of 600 examples per operation found nothing more.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import hypothesis
import orjson
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from service.http.openapi import load_document
from tests.builders import CURL_BODY, FIXTURES, shopify_body
from tests.support import Merchant, projections_caught_up

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Data outside the document must also be refused (a 4xx), never taken for something.
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


async def _some_sales(client: TestClient, merchant: Merchant) -> dict[str, str]:
    """The docs' curl test, a Shopify order, a product, an inbox entry: each query has rows.
    Returns path parameters that name them."""
    resp = await client.post(merchant.woo_orders(), data=CURL_BODY)
    assert resp.status == 200
    sale_id = (await resp.json())["sale_id"]
    body, _ = shopify_body("shopify-order-shopify-rest-example-450789469.json")
    headers = {"X-Shopify-Topic": "orders/create"}
    assert (await client.post(merchant.shopify_orders(), data=body, headers=headers)).ok
    product = FIXTURES / "woocommerce" / "woocommerce-product-restapidocs-v3-794-simple.json"
    assert (await client.post(merchant.woo_products(), data=product.read_bytes())).ok
    # Something in the inbox, too: a body that is not JSON is quarantined.
    assert (await client.post(merchant.woo_orders(), data=b"not json")).status == 202
    known = {"sale_id": sale_id, "product_ref": "woocommerce:42"}
    return {**known, "platform": "woocommerce", "external_id": "9999"}


def _query_operations(client: TestClient) -> list[Any]:
    """The document's GET operations the app serves (not the webhooks)."""
    served = {r.resource.canonical for r in client.app.router.routes() if r.method == "GET"}
    schema = schemathesis.openapi.from_dict(orjson.loads(load_document()))
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.method.upper() == "GET" and op.path in served]


def _run(
    operation: Any,
    mode: schemathesis.GenerationMode,
    base_url: str,
    auth: dict[str, str],
    path: dict[str, str] | None = None,
) -> None:
    checks = NEGATIVE_CHECKS if mode == schemathesis.GenerationMode.NEGATIVE else CHECKS
    session = requests.Session()
    strategy = operation.as_strategy(generation_mode=mode, headers=auth, path_parameters=path)

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=strategy)
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=auth, checks=checks)

    try:
        conforms()
    finally:
        session.close()


def _runs(operations: list[Any], known: dict[str, str]) -> list[tuple[Any, Any, Any]]:
    """Each operation in both modes; and one whose path names a row (a random sale id finds
    nothing) once more with the path naming rows that exist, so their answers are checked."""
    modes = list(schemathesis.GenerationMode)
    runs: list[tuple[Any, Any, Any]] = [(op, mode, None) for op in operations for mode in modes]
    for op in operations:
        names = re.findall(r"\{(\w+)\}", op.path)
        if names and all(name in known for name in names):
            path = {name: known[name] for name in names}
            runs.append((op, schemathesis.GenerationMode.POSITIVE, path))
    return runs


def _run_all(
    operations: list[Any], known: dict[str, str], base_url: str, auth: dict[str, str]
) -> list[str]:
    failures = []
    for operation, mode, path in _runs(operations, known):
        try:
            _run(operation, mode, base_url, auth, path)
        # Every operation's failures are reported, not the first one's only.
        except (Exception, FailureGroup) as exc:
            what = f"{operation.label} ({mode}{', ' + str(path) if path else ''})"
            failures.append(f"{what}: {type(exc).__name__}: {exc}")
    return failures


async def test_every_query_answer_is_documented(
    client: TestClient, merchant: Merchant, pool
) -> None:
    known = await _some_sales(client, merchant)
    await projections_caught_up(pool)
    operations = _query_operations(client)
    labels = {op.label for op in operations}
    assert {"GET /api/sales", "GET /api/sales/{sale_id}/trace", "GET /api/events"} <= labels
    base_url = str(client.make_url("")).rstrip("/")
    failures = await asyncio.to_thread(_run_all, operations, known, base_url, merchant.auth)
    assert not failures, "\n\n".join(failures)


def _post_and_validate(
    schema: Any, base_url: str, path: str, route: str, delivery: tuple[bytes, dict[str, str]]
) -> tuple[int, Any]:
    """Post one delivery; its answer must be one the document gives for that webhook."""
    body, headers = delivery
    resp = requests.post(base_url + path, data=body, headers=headers, timeout=30)
    operation = schema[route]["POST"]
    assert str(resp.status_code) in operation.definition.raw["responses"], resp.text
    operation.validate_response(resp)  # raises when the body is not the documented one
    return resp.status_code, resp.json()


async def test_the_webhooks_answer_as_documented(client: TestClient, merchant: Merchant) -> None:
    schema = schemathesis.openapi.from_dict(orjson.loads(load_document()))
    base_url = str(client.make_url("")).rstrip("/")
    woo, woo_products = merchant.woo_orders(), merchant.woo_products()
    woo_route = "/api/webhook/woocommerce/{token}"
    shopify_body_bytes, _ = shopify_body("shopify-order-shopify-rest-example-eur-custom-items.json")
    product = FIXTURES / "woocommerce" / "woocommerce-product-restapidocs-v3-799-variable.json"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    deliveries = [
        (woo, woo_route, (CURL_BODY.encode(), {}), 200),  # recorded
        (woo, woo_route, (CURL_BODY.encode(), {}), 200),  # duplicate
        (woo, woo_route, (b"webhook_id=7", form), 200),  # the ping
        (woo, woo_route, (b"{not json", {}), 202),  # quarantined, with its inbox id
        (woo_products, woo_route + "/producto", (product.read_bytes(), {}), 200),
        (
            merchant.shopify_orders(),
            "/api/webhook/shopify/{token}",
            (shopify_body_bytes, {"X-Shopify-Topic": "orders/create"}),
            200,
        ),
        ("/api/webhook/woocommerce/whk_" + "A" * 43, woo_route, (CURL_BODY.encode(), {}), 401),
    ]
    for path, route, delivery, status in deliveries:
        answered, body = await asyncio.to_thread(
            _post_and_validate, schema, base_url, path, route, delivery
        )
        # A machine too busy to record it in time queues it: documented too.
        assert answered == status or body.get("status") == "queued", (route, delivery, body)
