"""What the Claude Code hooks decide: keep the loop going at Stop, bring the state back at SessionStart.

The hooks run on every stop of every project, so the path without a session must be quick:
hooks/run-hook.sh looks for the two session files in bash and starts Python only when one is there.

A session is active when the project's session folder holds autoresearch.jsonl, its last status
marker is `running` (or there is none), and `.claude/autoresearch.local.md` does not say
`enabled: false` (the engine's `cancel` writes both).

The Stop hook lets the agent stop, silently, when no session is active, when max_iterations is used
up, after CRASH_LIMIT crashes in a row, or when it has blocked BLOCK_CAP times in a row while no new
experiment was logged (the agent keeps trying to stop without doing any work: a loop that goes
nowhere must end). Its counter lives in HOOKS_STATE_NAME, in the session folder.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, List, Optional

from . import records
from .atomicfile import write_atomic
from .sessionfiles import CONFIG_RELPATH, HOOKS_STATE_NAME, LOG_NAME


BLOCK_CAP = 3  # blocks in a row, within one turn, without a new logged experiment
CRASH_LIMIT = 3  # crashes in a row that end the loop


def candidate_dirs(payload: dict, environ=os.environ) -> List[str]:
    """The folders to look in: the hook's cwd, the project root Claude Code names, the process's folder."""
    seen: List[str] = []
    for value in (payload.get("cwd"), environ.get("CLAUDE_PROJECT_DIR"), os.getcwd()):
        if isinstance(value, str) and value and value not in seen:
            seen.append(value)
    return seen


def find_project(dirs: Iterable[str]) -> Optional[str]:
    """The first folder that may hold a session (its log or its settings file), by file existence only."""
    for directory in dirs:
        if os.path.isfile(os.path.join(directory, LOG_NAME)) or os.path.isfile(
            os.path.join(directory, CONFIG_RELPATH)
        ):
            return directory
    return None


class Active:
    """An active session: its workspace and loaded log."""

    def __init__(self, ws, loaded):
        self.ws = ws
        self.loaded = loaded

    @property
    def state_path(self) -> str:
        return os.path.join(self.ws.session_dir, HOOKS_STATE_NAME)


def active_session(project_dir: str) -> Optional[Active]:
    """The session in project_dir when it is active, else None (also when its files cannot be read)."""
    from . import jsonlog, session
    from .errors import EngineError
    from .workspace import open_workspace

    try:
        ws = open_workspace(project_dir)
        if not ws.config.enabled or not os.path.isfile(ws.log_path):
            return None
        loaded = session.load(jsonlog.read_log(ws.log_path))
    except (EngineError, OSError, ValueError):
        return None
    if not loaded.exists or loaded.state != "running":
        return None
    return Active(ws, loaded)


def _read_state(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            value = records.loads(handle.read(), absurd_numbers_as_text=True)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _active_for(payload: dict, environ) -> Optional[Active]:
    project = find_project(candidate_dirs(payload, environ))
    return active_session(project) if project is not None else None


def stop_decision(payload: dict, environ=os.environ) -> Optional[dict]:
    """The JSON to print for a Stop event: a block with the resume brief, or None to let the stop through."""
    active = _active_for(payload, environ)
    if active is None:
        return None
    from . import summary

    data = summary.status_data(active.ws, active.loaded, last=summary.RESUME_LAST)  # one look at git, for both uses
    if data["iterations_left"] == 0:
        return None
    if data["crash_streak"] >= CRASH_LIMIT:
        return None
    logged = len(active.loaded.experiments)
    state = _read_state(active.state_path)
    blocks = 0
    if payload.get("stop_hook_active") is True and state.get("logged") == logged:
        blocks = state.get("blocks", 0) if isinstance(state.get("blocks"), int) else 0
    if blocks >= BLOCK_CAP:
        return None  # the count stays at the cap until a new experiment is logged or a new turn starts
    write_atomic(active.state_path, json.dumps({"blocks": blocks + 1, "logged": logged}) + "\n")
    brief = summary.resume_text(active.ws, active.loaded, last=summary.RESUME_LAST, data=data)
    left = "" if data["iterations_left"] is None else f" ({data['iterations_left']} runs left)"
    reason = (
        f"The autoresearch session '{data['name']}' is still running{left}: do not stop. Continue the loop "
        "with the next experiment (edit, git commit, autoresearch run, autoresearch log, revert after a "
        "discard or crash). Stop only when the user asks; 'autoresearch cancel' ends the session.\n\n" + brief
    )
    return {"decision": "block", "reason": reason}


def session_start_context(payload: dict, environ=os.environ) -> Optional[dict]:
    """The JSON to print for SessionStart after compact or resume: the resume brief as added context."""
    if payload.get("source") not in ("compact", "resume"):
        return None
    active = _active_for(payload, environ)
    if active is None:
        return None
    from . import summary

    text = (
        "An autoresearch session is running in this project; the context was reset, so here is its state. "
        "Read it, then continue the loop.\n\n" + summary.resume_text(active.ws, active.loaded)
    )
    return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": text}}


def read_payload(text: str) -> dict:
    try:
        value = records.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
