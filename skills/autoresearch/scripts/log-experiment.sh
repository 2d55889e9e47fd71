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
while (($#)); do
  case $1 in
    --config) config=true ;;
    --no-pending | --new-segment | --continue | -h | --help | --*=*) args+=("$1") ;;
    --*)  # every other flag takes the next argument as its value, even one that looks like a flag
      args+=("$1")
      if (($# > 1)); then args+=("$2"); shift; fi ;;
    *) args+=("$1") ;;
  esac
  shift
done
if $config; then
  exec python3 "$engine" init --new-segment ${args[@]+"${args[@]}"}
fi
exec python3 "$engine" log ${args[@]+"${args[@]}"}
