"""Where a session's files are: the project folder, its settings, and the session folder."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import List, Optional

from . import config as config_module
from . import gitops, records
from .atomicfile import write_atomic
from .config import Config
from .errors import EngineError
from .sessionfiles import LOG_NAME, PENDING_SUFFIX, RUN_LOG

# The agent host's own folder (installed skills, settings): never part of what an experiment measures.
HOST_DIR = ".claude"


@dataclass
class Workspace:
    project_dir: str
    session_dir: str
    config: Config
    log_path: str

    @property
    def pending_path(self) -> str:
        base = self.log_path[: -len(".jsonl")] if self.log_path.endswith(".jsonl") else self.log_path
        return base + PENDING_SUFFIX

    @property
    def run_log(self) -> str:
        return os.path.join(self.session_dir, RUN_LOG)

    def file(self, name: str) -> str:
        return os.path.join(self.session_dir, name)

    def session_paths(self) -> List[str]:
        """Every file the session itself writes: no experiment owns them, no revert touches them."""
        paths = [os.path.join(self.session_dir, name) for name in gitops.SESSION_FILES]
        return paths + [os.path.join(self.project_dir, config_module.CONFIG_RELPATH), self.log_path,
                        self.pending_path]

    def owned_paths(self, repo: str) -> set:
        return gitops.relative_paths(repo, self.session_paths())

    def uncommitted(self, repo: str):
        """(changed tracked paths, untracked paths not ignored), the session's files left out, and so are
        untracked files in the agent host's own folder."""
        changed, untracked = gitops.uncommitted(repo, self.owned_paths(repo))
        return changed, [path for path in untracked if not _in_host_dir(path)]

    def require_committed(self, repo: str, action: str) -> None:
        """Refuse unless the working tree is exactly HEAD's commit (session files aside): what is measured
        or logged must be a commit, or the result belongs to no tree anyone can get back."""
        if gitops.head(repo) is None:
            raise EngineError(f"the repository has no commit yet; commit the harness (git add -A && git commit "
                              f"-m harness) before {action}.")
        changed, untracked = self.uncommitted(repo)
        if changed:
            raise EngineError(f"uncommitted changes in {gitops.shown_list(changed)}: {action} needs the working "
                              "tree to be a commit; commit them (git commit -am \"…\") or discard them "
                              "(git checkout -- FILE), then try again.")
        if untracked:
            raise EngineError(f"untracked files {gitops.shown_list(untracked)} are in no commit, so {action} "
                              "would measure a tree nobody can get back; commit them (git add FILE && git "
                              "commit), delete them, or list them in .gitignore, then try again.")

    def read_pending(self) -> Optional[dict]:
        try:
            with open(self.pending_path, "rb") as handle:
                value = records.loads(handle.read(), absurd_numbers_as_text=True)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise EngineError(
                f"{self.pending_path} is unreadable; delete it and run the benchmark again with 'autoresearch run'."
            ) from None
        return value if isinstance(value, dict) else None

    def write_pending(self, result: dict) -> None:
        write_atomic(self.pending_path, json.dumps(result, indent=1, allow_nan=False) + "\n")

    def clear_pending(self) -> None:
        try:
            os.remove(self.pending_path)
        except FileNotFoundError:
            pass


def _in_host_dir(path) -> bool:
    text = path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
    return HOST_DIR in text.split("/")[:-1]


def open_workspace(directory: Optional[str] = None, log_file: Optional[str] = None) -> Workspace:
    project_dir = os.path.abspath(directory or os.getcwd())
    if not os.path.isdir(project_dir):
        raise EngineError(f"the folder {project_dir} does not exist; pass an existing project folder with -C.")
    settings = config_module.load(project_dir)
    session_dir = project_dir
    if settings.working_dir:
        session_dir = os.path.normpath(os.path.join(project_dir, os.path.expanduser(settings.working_dir)))
        if not os.path.isdir(session_dir):
            raise EngineError(
                f"working_dir {settings.working_dir!r} in {settings.path} is not a folder; create it or fix the setting."
            )
    log_path = os.path.join(session_dir, LOG_NAME)
    if log_file:
        log_path = os.path.abspath(log_file)
    return Workspace(project_dir=project_dir, session_dir=session_dir, config=settings, log_path=log_path)
