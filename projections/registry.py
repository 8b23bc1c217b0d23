"""The projections this version of the ledger maintains."""

from __future__ import annotations

from projections.base import Projection
from projections.lookup import LookupProjection
from projections.owners import OwnersProjection
from projections.products import ProductsProjection
from projections.sales import SalesProjection
from projections.stock import StockProjection


def all_projections() -> list[Projection]:
    return [
        SalesProjection(),
        StockProjection(),
        LookupProjection(),
        ProductsProjection(),
        OwnersProjection(),
    ]
