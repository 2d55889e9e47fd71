"""The names of a session's files: the one place each is written down (hooks/run-hook.sh is checked by a test)."""

from __future__ import annotations

import os

LOG_NAME = "autoresearch.jsonl"
PENDING_SUFFIX = ".pending.json"  # beside the log, in place of .jsonl
PENDING_NAME = LOG_NAME[: -len(".jsonl")] + PENDING_SUFFIX
NOTES_NAME = "autoresearch.md"
IDEAS_NAME = "autoresearch.ideas.md"
RUN_LOG = "run.log"
HTML_NAME = "autoresearch.html"
PNG_NAME = "progress.png"
HOOKS_STATE_NAME = "autoresearch.hooks.json"
CONFIG_RELPATH = os.path.join(".claude", "autoresearch.local.md")  # in the project folder
BENCHMARK_SCRIPT = "autoresearch.sh"
CHECKS_SCRIPT = "autoresearch.checks.sh"

# what the engine and the agent write during a session: never committed, never touched by revert
SESSION_FILES = (LOG_NAME, NOTES_NAME, IDEAS_NAME, PENDING_NAME, RUN_LOG, HTML_NAME, PNG_NAME, HOOKS_STATE_NAME,
                 CONFIG_RELPATH)
