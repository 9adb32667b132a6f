"""``python -m tokentrace.demo.server``: serve until Ctrl-C."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
