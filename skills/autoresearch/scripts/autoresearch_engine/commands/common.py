"""What the sub-commands share: the folder and log flags, and loading the session with its warnings."""

from __future__ import annotations

import argparse
import sys

from .. import jsonlog, session
from ..errors import EngineError
from ..workspace import Workspace


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-C", "--dir", metavar="DIR", help="project folder (default: the current folder)")
    parser.add_argument("--file", metavar="PATH", help="the experiment log (default: autoresearch.jsonl in the session folder)")


def count(text: str) -> int:
    """An argparse type: a whole number from 0 up (how many runs to show)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 up, not {text!r}")
    return value


def load(ws: Workspace) -> session.Session:
    loaded = session.load(jsonlog.read_log(ws.log_path))
    for warning in loaded.warnings:
        print(f"autoresearch: warning: {warning}", file=sys.stderr)
    return loaded


def require_session(ws: Workspace, loaded: session.Session) -> session.Segment:
    segment = loaded.current
    if not segment.metric_name:
        raise EngineError(
            f"{ws.log_path} has no session header; start one with: autoresearch init --name GOAL "
            "--metric-name NAME --unit UNIT --direction lower|higher"
        )
    return segment
