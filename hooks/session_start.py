#!/usr/bin/env python3
"""Claude Code SessionStart hook (compact, resume): when an autoresearch session runs in this project,
add its `resume` brief to the fresh context. Silent (exit 0, no output) everywhere else."""

import json
import os
import sys

ENGINE = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "skills", "autoresearch", "scripts")


def main() -> int:
    payload = sys.stdin.read()
    sys.path.insert(0, ENGINE)
    try:
        from autoresearch_engine import hooks_support
    except ImportError:
        return 0
    context = hooks_support.session_start_context(hooks_support.read_payload(payload))
    if context:
        print(json.dumps(context, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
