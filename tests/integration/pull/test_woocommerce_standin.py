"""The stand-in refuses what the real store refuses (010-012, 005, 008, 045), so that the
client's acceptance by it means something."""

from __future__ import annotations

import base64
import time

import aiohttp

from service.adapters.oauth1 import query_string, signed_params
from tests.integration.pull.conftest import KEY, SECRET
from tests.standins.woocommerce import fixture

PATH = "/wp-json/wc/v3/orders/19"


def _signed(
    site: str,
    *,
    nonce: str,
    timestamp: int | None = None,
    secret: str = SECRET,
    algorithm: str = "HMAC-SHA256",
) -> list[tuple[str, str]]:
    return signed_params(
        "GET",
        site + PATH,
        [],
        consumer_key=KEY,
        consumer_secret=secret,
        nonce=nonce,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        algorithm=algorithm,
    )


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, await answer.read()


async def test_sha256_and_sha1_in_the_query_or_a_header_are_accepted(woo):
    for n, algorithm in enumerate(("HMAC-SHA256", "HMAC-SHA1")):
        params = _signed(woo.url, nonce=f"query{n}", algorithm=algorithm)
        assert (await _get(f"{woo.url}{PATH}?{query_string(params)}"))[0] == 200
    params = _signed(woo.url, nonce="header")
    header = "OAuth " + ", ".join(f'{k}="{v}"' for k, v in params)
    assert (await _get(woo.url + PATH, {"Authorization": header}))[0] == 200


async def test_a_replayed_nonce_is_refused_as_the_store_refuses_it(woo):
    url = f"{woo.url}{PATH}?{query_string(_signed(woo.url, nonce='once'))}"
    assert (await _get(url))[0] == 200
    assert await _get(url) == (401, fixture("045"))


async def test_a_stale_timestamp_a_wrong_secret_and_another_url_are_refused(woo):
    stale = _signed(woo.url, nonce="stale", timestamp=int(time.time()) - 3600)
    assert await _get(f"{woo.url}{PATH}?{query_string(stale)}") == (401, fixture("008"))
    wrong = _signed(woo.url, nonce="wrong", secret="cs_other")
    assert await _get(f"{woo.url}{PATH}?{query_string(wrong)}") == (401, fixture("005"))
    elsewhere = _signed("http://shop.example", nonce="elsewhere")
    assert await _get(f"{woo.url}{PATH}?{query_string(elsewhere)}") == (401, fixture("005"))


async def test_basic_keys_in_the_query_and_nothing_run_as_a_guest_over_http(woo):
    basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    guest = (401, fixture("012"))
    assert await _get(woo.url + PATH, {"Authorization": f"Basic {basic}"}) == guest
    query = query_string([("consumer_key", KEY), ("consumer_secret", SECRET)])
    assert await _get(f"{woo.url}{PATH}?{query}") == guest
    assert await _get(woo.url + PATH) == guest


async def test_per_page_above_100_and_a_bad_date_are_the_store_s_400s(woo):
    for params, seq in (([("per_page", "101")], "039"), ([("modified_after", "yesterday")], "040")):
        signed = signed_params(
            "GET",
            woo.url + "/wp-json/wc/v3/orders",
            params,
            consumer_key=KEY,
            consumer_secret=SECRET,
            nonce=seq,
            timestamp=int(time.time()),
        )
        url = f"{woo.url}/wp-json/wc/v3/orders?{query_string(signed)}"
        assert await _get(url) == (400, fixture(seq))
