"""A bulk pass raises the cycle collector's threshold; the last pass to end restores it."""

from __future__ import annotations

import gc

from service.projecting.bulk_replay import _FewerCollections


def test_overlapping_passes_restore_the_threshold_once_the_last_ends():
    before = gc.get_threshold()
    relief = _FewerCollections()
    try:
        relief.enter()
        assert gc.get_threshold()[0] == 100_000
        relief.enter()  # a second rebuild in the same process
        relief.leave()
        assert gc.get_threshold()[0] == 100_000  # the first still runs
        relief.leave()
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*before)
