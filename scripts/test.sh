#!/usr/bin/env bash
# The test command (README): the whole pytest suite in the set-up venv.
# pytest exits non-zero on failures and (exit 5) when no test was collected.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q python_tests "$@"
