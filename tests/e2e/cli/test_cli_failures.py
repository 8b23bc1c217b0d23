"""The ``ledger`` command fails the way a person can act on: one line that says what to do,
no traceback, no noise."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Merchant, ledger


def _env(database_url: str, spool: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEDGER_SPOOL_DIR": str(spool),
        "LEDGER_BACKFILL_INTERVAL": "0",  # no scheduled pulls of the suite's connections
    }


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_a_reader_that_goes_away_is_no_error(database_url: str, merchant: Merchant):
    """``ledger users list | head``: the pipe closes under us; we stop, quietly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "users", "list"],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert err == ""


def test_a_malformed_database_url_is_one_line(tmp_path: Path):
    for url in ("not a url", "mysql://root@localhost/ledger", "postgresql://h:port/db"):
        code, _, err = _run(_env(url, tmp_path), "users", "list")
        assert code == 2, (url, err)
        assert err.count("\n") == 1 and "DATABASE_URL must look like postgresql://" in err
        assert "Traceback" not in err


def test_serve_on_a_port_in_use_says_so(database_url: str, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = _run(_env(database_url, tmp_path), "serve", "--port", str(port))
    assert code == 2, err
    assert "another program uses" in err and "--port" in err
    assert "Traceback" not in err


def test_a_second_service_on_one_spool_refuses_to_start(database_url: str, tmp_path: Path):
    env = _env(database_url, tmp_path / "spool")
    first = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            if (tmp_path / "spool" / ".lock").exists():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        code, _, err = _run(env, "serve", "--port", "0")
        assert code == 2, err
        assert "held by another ledger service" in err and "LEDGER_SPOOL_DIR" in err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)


@pytest.mark.slow
async def test_serve_with_the_database_down_warns_once_and_backs_off(tmp_path: Path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens once it is closed
    env = _env(f"postgresql://postgres@127.0.0.1:{port}/ledger", tmp_path)
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service.cli", "serve", "--port", "0"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    # Not an ordering wait: "once" is a claim about a stretch of time, several backoff rounds.
    await asyncio.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = await proc.communicate()
    warnings = [line for line in err.decode().splitlines() if "WARNING" in line]
    unavailable = [line for line in warnings if "database unavailable" in line]
    assert len(unavailable) == 1, warnings
    assert "backoff" in unavailable[0]


async def test_adjust_refuses_bad_input_before_it_prints_a_key(database_url: str, merchant):
    args = ("stock", "adjust", "--user", merchant.name, "woocommerce:42", "--by", "0")
    code, out, err = await ledger(database_url, *args, "--reason", "nothing")
    assert (code, out) == (2, "")
    assert "by must be a non-zero whole number" in err


async def test_trace_names_the_external_id_it_did_not_find(database_url: str, merchant):
    args = ("trace", "--user", merchant.name, "--external", "woocommerce:424242")
    code, _, err = await ledger(database_url, *args)
    assert code == 2
    assert "woocommerce order 424242" in err
