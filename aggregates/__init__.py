"""The pure write model: aggregates, their events and the values they carry.

Imports only the standard library and ``eventsourcing.domain``; no I/O, no asyncio.
"""
