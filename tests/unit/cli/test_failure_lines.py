"""An expected failure of ``ledger`` is one line on stderr, whatever its docstring's wrapping."""

from __future__ import annotations

from service.cli.common import CommandError, failure_line
from service.store.migrate import MigrationChangedError


def test_a_changed_migration_is_named_on_one_line():
    line = failure_line(MigrationChangedError("0002_users.sql"))
    assert line.count("\n") == 1 and line.endswith("(0002_users.sql)\n")
    assert line.startswith("ledger: A migration already applied to this database has changed")
    assert "  " not in line


def test_every_expected_failure_reads_as_one_line():
    assert failure_line(CommandError("give either an inbox ID or --all-pings")) == (
        "ledger: The command cannot be carried out as given."
        " (give either an inbox ID or --all-pings)\n"
    )
