"""An order's stock book: how much of each line is out of the warehouse, and the moves that
bring it to what the order says, live or as corrected code reads it.

Pure planning; the aggregate turns each move into an event. Stock out for a line is always
planned from one target, taken from the newest snapshot: while the sale holds stock, what the
store's own bookkeeping says the line holds out (``keeps_own_books``), or without that
bookkeeping its quantity less what refunds have brought back (see ``holds_stock``); else
nothing. Planning from that target, rather than reacting to each change, is what makes the
result independent of the order deliveries arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aggregates.lifecycle import keeps_own_books, line_keys, movement
from aggregates.values import OrderLine, Refund

# What identifies a line's stock movements (a restore repeats it exactly).
MOVEMENT_IDENTITY = (
    *("line_key", "line_index", "line_id", "product_id", "variation_id", "sku"),
    *("product_ref", "name"),
)


@dataclass(frozen=True)
class Move:
    """One stock movement to record: ``quantity`` > 0 units deducted or restored."""

    deduct: bool
    identity: Mapping[str, Any]
    quantity: int
    reason: str
    refund_id: str | None = None


@dataclass
class StockBook:
    """Per line key: how many are out, the identity they went out under, and per (refund,
    line key) how many a refund brought back."""

    out: dict[str, int] = field(default_factory=dict)
    moved: dict[str, dict[str, Any]] = field(default_factory=dict)
    refund_restored: dict[tuple[str, str], int] = field(default_factory=dict)

    def deducted(self, identity: Mapping[str, Any], quantity: int) -> None:
        key = identity["line_key"]
        self.out[key] = self.out.get(key, 0) + quantity
        self.moved[key] = {name: identity[name] for name in MOVEMENT_IDENTITY}

    def restored(self, key: str, quantity: int, refund_id: str | None) -> None:
        self.out[key] = self.out.get(key, 0) - quantity
        if refund_id is not None:
            done = self.refund_restored
            done[(refund_id, key)] = done.get((refund_id, key), 0) + quantity

    def _by_refunds(self, key: str) -> int:
        return sum(n for (_, k), n in self.refund_restored.items() if k == key)

    def settle(
        self, platform: str, lines: tuple[OrderLine, ...], holds: bool, reason: str
    ) -> list[Move]:
        """Moves that bring every line to its target (new lines, edits, status changes)."""
        books = keeps_own_books(lines)
        targets: dict[str, tuple[Mapping[str, Any], int]] = {}
        for index, (line, key) in enumerate(zip(lines, line_keys(lines, platform), strict=True)):
            if key is None:
                continue
            if not holds:
                want = 0
            elif books:
                want = line.reduced_stock or 0
            else:
                want = line.quantity - self._by_refunds(key)
            targets[key] = (movement(line, index, key, platform), max(want, 0))
        moves = []
        for key in sorted(set(self.out) | set(targets)):
            have = self.out.get(key, 0)
            target, want = targets.get(key, (self.moved.get(key) or {}, 0))
            if have and self.moved[key]["product_ref"] != target["product_ref"]:
                # The line now names another product: give the old one back, take the new one.
                moves.append(Move(False, self.moved[key], have, reason))
                have = 0
            if want > have:
                moves.append(Move(True, target, want - have, reason))
            elif want < have:
                moves.append(Move(False, self.moved[key], have - want, reason))
        return moves

    def refund_restocks(
        self, platform: str, lines: tuple[OrderLine, ...], refunds: Mapping[str, Refund]
    ) -> list[Move]:
        """Restocks that refunds ask for and that have not happened yet.

        Only what is actually out can come back, so a refund is never counted twice and never
        restocks a line the sale does not hold (a refund that arrived before its order waits).
        """
        keys: dict[str, str] = {}
        for line, key in zip(lines, line_keys(lines, platform), strict=True):
            if line.line_id and key is not None:
                keys.setdefault(line.line_id, key)
        moves = []
        left = dict(self.out)
        for refund_id in sorted(refunds):
            for refund_line in refunds[refund_id].lines:
                key = keys.get(refund_line.line_id) if refund_line.line_id else None
                if not refund_line.restock or key is None or key not in self.moved:
                    continue
                pending = refund_line.quantity - self.refund_restored.get((refund_id, key), 0)
                quantity = min(pending, left.get(key, 0))
                if quantity > 0:
                    left[key] = left.get(key, 0) - quantity
                    moves.append(
                        Move(False, self.moved[key], quantity, f"refund {refund_id}", refund_id)
                    )
        return moves

    def moves_to(self, fresh: StockBook, reason: str) -> list[Move]:
        """Per line: give back what this book holds and ``fresh`` does not, and take what
        ``fresh`` holds and this one does not (a changed product counts as both)."""
        moves = []
        for key in sorted(set(self.out) | set(fresh.out)):
            have, want = self.out.get(key, 0), fresh.out.get(key, 0)
            same_product = (
                key in self.moved
                and key in fresh.moved
                and self.moved[key]["product_ref"] == fresh.moved[key]["product_ref"]
            )
            if have and want and not same_product:
                moves.append(Move(False, dict(self.moved[key]), have, reason))
                have = 0
            if want > have:
                moves.append(Move(True, dict(fresh.moved[key]), want - have, reason))
            elif have > want:
                moves.append(Move(False, dict(self.moved[key]), have - want, reason))
        return moves

    def refunds_restored(self) -> tuple[tuple[str, str, int], ...]:
        """``refund_restored`` as an event stores it."""
        return tuple((r, k, n) for (r, k), n in sorted(self.refund_restored.items()))


def _restocked(lines: tuple[OrderLine, ...], platform: str) -> dict[str, int]:
    keys = line_keys(lines, platform)
    return {k: line.restocked or 0 for line, k in zip(lines, keys, strict=True) if k is not None}


def name_refund_restocks(
    moves: list[Move],
    platform: str,
    before: tuple[OrderLine, ...],
    after: tuple[OrderLine, ...],
    new_refunds: list[str],
) -> list[Move]:
    """Say which refund a restore comes from, where the store's bookkeeping says a refund
    restocked the line (its ``restocked`` count rose from ``before`` to ``after``).

    The bookkeeping counts items, not refunds, so a refund is named only when the snapshot
    that shows the restock is also the first to show that refund (``new_refunds``).
    """
    was, now = _restocked(before, platform), _restocked(after, platform)
    if len(new_refunds) == 1:
        reason, refund_id = f"restocked by refund {new_refunds[0]}", new_refunds[0]
    elif new_refunds:
        reason, refund_id = "restocked by refunds " + ", ".join(new_refunds), None
    else:
        reason, refund_id = "restocked by a refund", None
    named = []
    for move in moves:
        key = move.identity["line_key"]
        if not move.deduct and now.get(key, 0) > was.get(key, 0):
            move = replace(move, reason=reason, refund_id=refund_id)
        named.append(move)
    return named
