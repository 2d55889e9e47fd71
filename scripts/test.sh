#!/usr/bin/env bash
# Build the test environment in .venv (the first time takes a few minutes) and run the whole test suite.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/engine -x
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=--quiet
if [ ! -x .venv/bin/python ]; then
  echo "scripts/test.sh: creating .venv and installing the test environment (pip install -e '.[test,ml]': torch,"
  echo "matplotlib, triton…; minutes the first time). pip's progress follows."
  python3 -m venv .venv
  quiet=
fi
.venv/bin/python -m pip install $quiet --progress-bar off --disable-pip-version-check -e '.[test,ml]' 2>&1 \
  | while IFS= read -r line; do case $line in "Requirement already satisfied"*) ;; *) printf '  %s\n' "$line" ;; esac; done
exec .venv/bin/python -m pytest "$@"
