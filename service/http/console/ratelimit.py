"""Sign-in attempts counted per client address and per key prefix, in bounded memory."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class AttemptLimiter:
    """At most ``limit`` failed attempts per name within ``window`` seconds.

    A fixed window per name; the oldest names are forgotten first once ``max_names`` are
    tracked, so a flood of addresses costs bounded memory (and only unlocks itself).
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 300.0,
        max_names: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_names = max_names
        self._clock = clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def retry_after(self, *names: str) -> int:
        """Whole seconds until every one of ``names`` may try again; 0: now."""
        now = self._clock()
        wait = 0.0
        for name in names:
            started, count = self._seen.get(name, (now, 0))
            if now - started >= self.window:
                continue
            if count >= self.limit:
                wait = max(wait, self.window - (now - started))
        return math.ceil(wait)

    def failed(self, *names: str) -> None:
        now = self._clock()
        for name in names:
            started, count = self._seen.pop(name, (now, 0))
            if now - started >= self.window:
                started, count = now, 0
            self._seen[name] = (started, count + 1)
        while len(self._seen) > self.max_names:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
