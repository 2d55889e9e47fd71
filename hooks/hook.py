#!/usr/bin/env python3
"""Claude Code hooks of the autoresearch plugin; usage: hook.py stop|session_start (the hook JSON on stdin).

stop:          while a session runs in this project, block the stop and hand the agent the `resume` brief.
session_start: after compact or resume, add the `resume` brief to the fresh context.
Silent (exit 0, no output) everywhere else, and when the plugin is incomplete."""

import json
import os
import sys

ENGINE = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "skills", "autoresearch", "scripts")


def main() -> int:
    event = sys.argv[1] if len(sys.argv) > 1 else ""
    payload = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    sys.path.insert(0, ENGINE)
    try:
        from autoresearch_engine import hooks_support
    except ImportError:
        return 0  # never get in the way of Claude Code
    handlers = {"stop": hooks_support.stop_decision, "session_start": hooks_support.session_start_context}
    if event not in handlers:
        return 0
    output = handlers[event](hooks_support.read_payload(payload))
    if output:
        print(json.dumps(output, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
