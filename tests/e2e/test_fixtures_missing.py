"""Without the fixtures the suite stops at once, saying where they must be."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_a_missing_fixtures_folder_stops_the_run_with_one_line(tmp_path: Path):
    missing = tmp_path / "no-fixtures-here"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"),
        env={**os.environ, "LEDGER_FIXTURES": str(missing)},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 4, text
    assert f"the test fixtures must be at {missing}" in text
    assert "Traceback" not in text and "Error" not in text.replace("ERROR", ""), text
    assert "passed" not in text and "collected" not in text, text
