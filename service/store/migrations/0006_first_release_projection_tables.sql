-- The first release kept its projections' tables in public; since c73521c each projection
-- lives in a schema of its own, and public, first on the search_path, must not shadow them
-- with stale copies. Projections are rebuilt from the log, so nothing is lost.
DROP TABLE IF EXISTS public.sales, public.sale_receipts, public.stock_movements,
    public.stock_levels, public.order_lookup, public.products;
