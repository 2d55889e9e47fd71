#!/usr/bin/env bash
# Seed-compatible front end to the engine's `init` and `log`: the same flags as the seed's script,
# with the engine's validation and atomic appends behind them.
#
#   log-experiment.sh --config --name NAME --metric-name NAME --metric-unit UNIT --direction lower|higher [--file F]
#   log-experiment.sh --run N --commit HASH --metric X --status S --description TEXT \
#                     [--metrics JSON] [--segment N] [--confidence X] [--asi JSON] [--file F]
set -euo pipefail
engine="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/autoresearch"
args=()
config=false
for arg in "$@"; do
  if [[ "$arg" == "--config" ]]; then config=true; else args+=("$arg"); fi
done
if $config; then
  exec python3 "$engine" init --new-segment ${args[@]+"${args[@]}"}
fi
exec python3 "$engine" log ${args[@]+"${args[@]}"}
