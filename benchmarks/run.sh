#!/usr/bin/env bash
# tokentrace side by side with the other OpenAI instrumentations: bash benchmarks/run.sh [--quick] [--help]
# Creates (or reuses) one venv per peer under benchmarks/.venvs/, measures, writes benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")"
exec "${PYTHON:-python3}" -m peers "$@"
