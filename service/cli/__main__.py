"""``python -m service.cli``: the ``ledger`` command."""

import sys

from service.cli import main

sys.exit(main())
