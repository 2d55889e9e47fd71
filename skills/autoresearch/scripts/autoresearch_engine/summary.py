"""The session seen from outside: the `status` numbers and the `resume` brief."""

from __future__ import annotations

import json
import os
from typing import List, Optional

from . import decide, experiment, gitops, revert, stats
from .display import short
from .errors import EngineError
from .session import Session
from .sessionfiles import IDEAS_NAME, NOTES_NAME
from .workspace import Workspace


RESUME_LAST = 8  # recent runs in the brief


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".rstrip() if unit else text


def status_data(ws: Workspace, session: Session, last: int = 10) -> dict:
    if isinstance(last, bool) or not isinstance(last, int) or last < 0:
        raise EngineError(f"--last must be a whole number from 0 up (how many runs to list), not {last!r}.")
    segment = session.current
    noise = decide.noise_model(experiment.segment_sample_groups(segment))
    max_iterations = ws.config.max_iterations
    runs = len(segment.experiments)
    best = segment.best_record
    return {
        "exists": session.exists,
        "name": (segment.config or {}).get("name"),
        "state": session.state,
        "enabled": ws.config.enabled,
        "segment": segment.index,
        "metric_name": segment.metric_name,
        "metric_unit": segment.metric_unit,
        "direction": segment.direction,
        "runs": runs,
        "total_runs": len(session.experiments),
        "kept": segment.count("keep"),
        "discarded": segment.count("discard"),
        "crashed": segment.count("crash"),
        "checks_failed": segment.count("checks_failed"),
        "refused": len(segment.refusals),
        "baseline": segment.baseline,
        "best": segment.best,
        "best_run": best.get("run") if best else None,
        "best_description": best.get("description") if best else None,
        "improvement_pct": _improvement(segment),
        "confidence": segment.confidence(),
        "max_iterations": max_iterations,
        "iterations_left": max(0, max_iterations - runs) if max_iterations else None,
        "failure_streak": segment.failure_streak(),
        "crash_streak": segment.failure_streak(("crash",)),
        "noise_sigma": noise.sigma,
        "noise_dof": noise.dof,
        "seed_only_keeps": [e.get("run") for e in segment.kept if "seed_only" in (e.get("flags") or [])],
        "last_runs": [_brief(e) for e in segment.experiments[-last:]] if last else [],
        "log": ws.log_path,
        "warnings": list(session.warnings),
        "git_warning": git_state(ws, session) if session.exists else None,
    }


def _improvement(segment) -> Optional[float]:
    return stats.improvement_pct(segment.baseline, segment.best, segment.direction)


def _brief(entry: dict) -> dict:
    keys = ("run", "commit", "status", "metric", "description", "confidence")
    brief = {key: entry.get(key) for key in keys}
    if entry.get("asi"):
        brief["asi"] = entry["asi"]
    return brief


def status_text(data: dict) -> str:
    if not data["exists"]:
        return f"no autoresearch session here: {data['log']} holds no runs yet; start one with 'autoresearch init'."
    unit = data["metric_unit"]
    direction = "lower" if data["direction"] == "lower" else "higher"
    lines = [
        f"autoresearch: {data['name']} — segment {data['segment']}, {data['state']}",
        f"metric: {data['metric_name']} ({unit or 'no unit'}, {direction} is better)",
        f"runs: {data['runs']} (kept {data['kept']}, discarded {data['discarded']}, crashed {data['crashed']}, "
        f"checks failed {data['checks_failed']})" + _refused(data),
    ]
    improvement = "n/a" if data["improvement_pct"] is None else f"{data['improvement_pct']:+.2f}%"
    best = fmt(data["best"], unit)
    if data["best_run"] is not None:
        best += f" (run {data['best_run']})"
    confidence = "n/a" if data["confidence"] is None else f"{data['confidence']:.2f}"
    lines.append(f"baseline: {fmt(data['baseline'], unit)}   best: {best}   improvement: {improvement}   "
                 f"confidence: {confidence}")
    left = "unlimited" if data["iterations_left"] is None else str(data["iterations_left"])
    lines.append(f"iterations left: {left}   failure streak: {data['failure_streak']}   noise: {noise_text(data)}")
    if data["git_warning"]:
        lines.append(f"git: WARNING {data['git_warning']}")
    for run in data["seed_only_keeps"]:
        lines.append(f"WARNING: run {run} was kept but only changes a random seed; its gain is probably noise.")
    if data["last_runs"]:
        lines.append("")
        lines.append(f"{'run':>5}  {'status':<13} {'metric':>12}  description")
        for run in data["last_runs"]:
            lines.append(
                f"{run['run']!s:>5}  {run['status']!s:<13} {fmt(run['metric']):>12}  {short(run['description'], 60)}"
            )
    return "\n".join(lines)


def noise_text(data: dict) -> str:
    """The measured run-to-run noise of the segment, as status and resume show it."""
    if data["noise_sigma"] is None:
        return "unknown (no repeated samples)"
    return f"sigma {data['noise_sigma']:.4g}{' ' + data['metric_unit'] if data['metric_unit'] else ''} ({data['noise_dof']} dof)"


def asi_lines(asi: dict, width: int = 300) -> List[str]:
    """ASI as indented `key: value` lines, each value on one line of at most `width` characters, except `next`:
    the idea a run suggests is what a fresh agent acts on, so it is never cut."""
    lines = []
    for key, value in asi.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines.append(f"    {key}: {short(text, 10 * width if key == 'next' else width)}")
    return lines


def _refused(data: dict) -> str:
    count = data["refused"]
    return f"; refused {count} candidate{'' if count == 1 else 's'} changing protected files" if count else ""


def git_state(ws: Workspace, session: Session) -> Optional[str]:
    """None when the files are the state the log vouches for, else a warning sentence."""
    cwd = ws.session_dir
    repo = gitops.toplevel(cwd)
    if not repo:
        return "this folder is not a git repository, so experiments cannot be committed or reverted."
    if gitops.head(repo) is None:
        return "the repository has no commit yet; commit the harness before the first run."
    changed, untracked = ws.uncommitted(repo)
    dirty = ""
    if changed or untracked:
        dirty = (f" Also: the working tree is not a commit (uncommitted changes in "
                 f"{gitops.shown_list(changed + untracked)}); 'autoresearch run' refuses it until they are "
                 "committed or removed.")
    warning = _history_state(repo, session)
    if warning is None:
        return dirty.replace(" Also: t", "T", 1).strip() or None
    return warning + dirty


def _history_state(repo: str, session: Session) -> Optional[str]:
    experiments = session.experiments
    if not experiments:
        return None
    last = experiments[-1]
    logged = gitops.resolve(repo, str(last.get("commit", "")))
    if logged is None:
        return (f"the last logged run (#{last.get('run')}) names commit {last.get('commit')}, which this repository "
                "does not have; check that you are on the session branch.")
    if gitops.git(repo, "merge-base", "--is-ancestor", logged, "HEAD", check=False).returncode != 0:
        return (f"HEAD is not a descendant of the last logged commit {last.get('commit')}; check out the session "
                "branch before continuing.")
    kept = revert.last_kept(repo, session)
    if kept is None:  # nothing kept yet: only what came after the last logged run can be out of place
        since = gitops.history(repo, logged)
        if last.get("status") != "keep":
            if not since:
                return (f"the last run (#{last.get('run')}, {last.get('status')}) was never reverted; "
                        "run 'autoresearch revert' before the next experiment.")
            since = [e for e in since if not any(logged.startswith(p) for p in e["reverts"])]
        unlogged = revert.in_effect(since)
        if unlogged:
            return _unlogged_sentence(unlogged, "after the last logged run")
        return None
    effective = revert.in_effect(gitops.history(repo, kept.commit))
    if last.get("status") != "keep" and any(e["commit"] == logged for e in effective):
        return (f"the last run (#{last.get('run')}, {last.get('status')}) was never reverted; "
                "run 'autoresearch revert' before the next experiment.")
    unlogged = [e for e in effective if not revert.is_logged(e, session)]
    if unlogged:
        where = "after the last logged run" if kept.commit == logged else f"since the last kept run (#{kept.run})"
        return _unlogged_sentence(unlogged, where)
    differ = gitops.changed_paths(repo, kept.commit, "HEAD")
    if differ:
        return (f"the files differ from the last kept run #{kept.run} ({kept.commit[:7]}) in "
                f"{gitops.shown_list(differ)}; 'autoresearch revert' brings them back.")
    return None


def _unlogged_sentence(entries: List[dict], where: str) -> str:
    return (f"{len(entries)} commit(s) {where} were never logged: {revert.describe(entries)}; "
            "run 'autoresearch run' then 'autoresearch log' for it, or 'autoresearch revert' it.")


def _read(path: str, max_lines: int) -> Optional[List[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"… ({len(lines) - max_lines} more lines in {os.path.basename(path)})"]
    return lines


def open_ideas(path: str, limit: int = 15) -> List[str]:
    lines = _read(path, 10_000) or []
    ideas = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("- [x]", "* [x]", "- [X]", "* [X]", "- ~~")):
            continue
        if stripped.startswith(("- ", "* ")):
            ideas.append(stripped)
    return ideas[:limit]


def resume_text(ws: Workspace, session: Session, last: int = RESUME_LAST,
                data: Optional[dict] = None) -> str:
    """The brief; `data`, when the caller already has it, is status_data(ws, session, last=last)."""
    if data is None:
        data = status_data(ws, session, last=last)
    if not data["exists"]:
        return status_text(data)
    lines = [f"# autoresearch resume: {data['name']}"]
    lines.append(
        f"state {data['state']}; segment {data['segment']}; metric {data['metric_name']} "
        f"({data['metric_unit'] or 'no unit'}, {data['direction']} is better); {data['runs']} runs this segment "
        f"(kept {data['kept']}, discarded {data['discarded']}, crashed {data['crashed']}, checks failed {data['checks_failed']})"
        + _refused(data)
    )
    if data["max_iterations"]:
        lines.append(f"iterations: {data['runs']} of {data['max_iterations']} used, {data['iterations_left']} left")
    best = fmt(data["best"], data["metric_unit"])
    if data["best_run"] is not None:
        best += f" (run {data['best_run']}: {short(data['best_description'], 70)})"
    improvement = "n/a" if data["improvement_pct"] is None else f"{data['improvement_pct']:+.2f}%"
    confidence = "n/a" if data["confidence"] is None else f"{data['confidence']:.2f}"
    lines.append(f"baseline {fmt(data['baseline'], data['metric_unit'])}; best {best}; "
                 f"improvement {improvement}; confidence {confidence}; noise {noise_text(data)}")
    warning = data["git_warning"]
    head = gitops.head(ws.session_dir) if gitops.toplevel(ws.session_dir) else None
    lines.append(f"git: WARNING {warning}" if warning else f"git: HEAD {head} matches the log.")
    pending = ws.read_pending()
    if pending and pending.get("protected"):
        lines.append(
            f"pending: commit {pending.get('commit')} was refused, unmeasured, because it changes the protected "
            f"{', '.join(pending['protected'][:3])}; log it as a discard or revert it."
        )
    elif pending:
        lines.append(
            f"pending: a run of commit {pending.get('commit')} measured {pending.get('metric_name')}="
            f"{fmt(pending.get('metric'))} ({pending.get('status')}) but is not logged; run 'autoresearch log'."
        )
    for run in data["seed_only_keeps"]:
        lines.append(f"warning: run {run} was kept but only changes a random seed; treat its gain as noise.")
    if data["failure_streak"] >= 3:
        lines.append(f"note: the last {data['failure_streak']} runs failed or were discarded; try a different angle.")
    for warning in data["warnings"]:
        lines.append(f"log: {warning}")

    notes = _read(ws.file(NOTES_NAME), 60)
    lines.append("")
    if notes is None:
        lines.append(f"## {NOTES_NAME}: missing; rebuild it from this summary and 'git log' before continuing.")
    else:
        lines.append(f"## {NOTES_NAME}")
        lines.extend(notes)

    lines.append("")
    lines.append(f"## Last {len(data['last_runs'])} experiments")
    for run in data["last_runs"]:
        entry = f"#{run['run']} {run['status']} {fmt(run['metric'])} {run['commit']}: {short(run['description'], 80)}"
        lines.append(entry)
        if run.get("asi"):
            lines.extend(asi_lines(run["asi"]))

    ideas = open_ideas(ws.file(IDEAS_NAME))
    if ideas:
        lines.append("")
        lines.append(f"## Open ideas ({IDEAS_NAME})")
        lines.extend(ideas)

    lines.append("")
    if data["state"] == "running":
        lines.append("Next: continue the loop — edit, git commit, 'autoresearch run', 'autoresearch log', "
                     "and 'autoresearch revert' after a discard or crash.")
    else:
        lines.append(f"The session is {data['state']}: do not continue unless the user asks; "
                     "'autoresearch init --continue' reopens it.")
    return "\n".join(lines)
