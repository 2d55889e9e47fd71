#!/usr/bin/env bash
# Fast gate for the autoresearch hooks: usage  run-hook.sh stop|session_start  (the hook JSON on stdin).
# Most projects have no autoresearch session, so this looks for the session files with bash alone and
# exits 0 silently when there are none; only then is Python started (hooks/hook.py EVENT, same stdin).
payload=$(cat)
here=$(dirname "${BASH_SOURCE[0]}")
dirs=()
if [[ $payload =~ \"cwd\"[[:space:]]*:[[:space:]]*\"(([^\"\\]|\\.)*)\" ]]; then
  cwd=${BASH_REMATCH[1]}
  if [[ $cwd == *\\* ]]; then
    # JSON escapes (\u00fc, \", \\) that bash cannot decode: Python reads the payload and decides
    exec python3 "$here/hook.py" "$1" <<<"$payload"
  fi
  dirs+=("$cwd")
fi
dirs+=("${CLAUDE_PROJECT_DIR:-}" "$PWD")
for dir in "${dirs[@]}"; do
  [[ -n $dir ]] || continue
  if [[ -f $dir/autoresearch.jsonl || -f $dir/.claude/autoresearch.local.md ]]; then
    exec python3 "$here/hook.py" "$1" <<<"$payload"
  fi
done
exit 0
