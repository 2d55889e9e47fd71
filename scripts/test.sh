#!/usr/bin/env bash
# Build the test environment in .venv (the first time takes a minute) and run the whole test suite.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/engine -x
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,ml]'
exec .venv/bin/python -m pytest "$@"
