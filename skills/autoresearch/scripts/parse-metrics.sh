#!/usr/bin/env bash
# Seed-compatible METRIC parser: reads benchmark output on stdin and prints `name=value` for each
# METRIC line, or only the value of NAME when one is given (exit 1 when NAME is missing or not finite).
#
#   bash autoresearch.sh 2>&1 | parse-metrics.sh            # total_ms=4230 …
#   bash autoresearch.sh 2>&1 | parse-metrics.sh total_ms   # 4230
set -euo pipefail
exec python3 "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/autoresearch" metrics "$@"
