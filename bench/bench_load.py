"""The load test (``bench/loadtest.py``) as one of ``make bench``'s benchmarks: 60 s of the mixed workload against a
server on a temporary SQLite database (pass ``--database-url`` to ``loadtest.py`` itself for PostgreSQL)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadtest import main

if __name__ == "__main__":
    sys.exit(main())
