"""A run with fewer workers never strands what a run with more left in their spools."""

from __future__ import annotations

from pathlib import Path

from service.cli.serve import orphaned_spools, worker_settings
from service.settings import Settings


def _spool_entry(directory: Path, name: str = "000000000001.json") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(b"{}")


def test_each_worker_has_its_own_spool_and_only_the_first_runs_projections(tmp_path: Path):
    settings = Settings(spool_dir=tmp_path)
    assert worker_settings(settings, 0) == settings
    second = worker_settings(settings, 2)
    assert second.spool_dir == tmp_path / "worker-2"
    assert not second.run_projections


def test_spools_of_workers_beyond_the_count_are_found_only_when_they_hold_deliveries(
    tmp_path: Path,
):
    settings = Settings(spool_dir=tmp_path)
    _spool_entry(tmp_path / "worker-1")
    _spool_entry(tmp_path / "worker-3")
    (tmp_path / "worker-2").mkdir()  # empty: nothing stranded
    _spool_entry(tmp_path / "worker-4", "token-hashes.json")  # no delivery in it
    assert orphaned_spools(settings, 4) == []
    assert orphaned_spools(settings, 2) == [tmp_path / "worker-3"]
    assert orphaned_spools(settings, 1) == [tmp_path / "worker-1", tmp_path / "worker-3"]
