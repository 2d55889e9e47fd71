#!/usr/bin/env python3
"""Claude Code Stop hook: while an autoresearch session runs in this project, block the stop and hand the
agent the `resume` brief so it continues the loop. Silent (exit 0, no output) everywhere else."""

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
        return 0  # the plugin is incomplete; never get in the way of a stop
    decision = hooks_support.stop_decision(hooks_support.read_payload(payload))
    if decision:
        print(json.dumps(decision, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
