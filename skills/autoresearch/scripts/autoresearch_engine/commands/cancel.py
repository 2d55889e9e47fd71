"""`autoresearch cancel`: end the session, keeping its history and kept commits."""

from __future__ import annotations

import time

from .. import config, jsonlog, records, summary
from ..errors import EngineError
from ..workspace import open_workspace
from .common import add_common, load


def cmd_cancel(args) -> int:
    ws = open_workspace(args.dir, args.file)
    loaded = load(ws)
    if not loaded.exists:
        raise EngineError(f"there is no autoresearch session in {ws.session_dir} to cancel.")
    jsonlog.append_record(ws.log_path, records.make_status("cancelled", int(time.time())))
    config.set_value(ws.project_dir, "enabled", "false")
    data = summary.status_data(ws, loaded)
    print(f"autoresearch: cancelled '{data['name']}' after {data['total_runs']} runs (kept {data['kept']} in this "
          f"segment; best {summary.fmt(data['best'], data['metric_unit'])}). History and kept commits stay; "
          "'autoresearch init --continue' reopens it.")
    return 0


def register(sub) -> None:
    p = sub.add_parser("cancel", help="end the session, keeping history and kept commits",
                       description="Append a 'cancelled' marker and set enabled: false so hooks stop the loop.")
    add_common(p)
    p.set_defaults(func=cmd_cancel)
