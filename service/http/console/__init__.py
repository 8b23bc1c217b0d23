"""The merchant's console: server-rendered pages under /console (see docs/console.md).

Kept in the HTTP edge because its handlers speak aiohttp; the reading and writing they do is
the same the query and audit APIs do (projections, service/audit, service/accounts).
"""
