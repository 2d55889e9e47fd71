"""Spotting a kept change that only alters a random seed: such a gain is a lucky draw, not an idea."""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from . import gitops

SEED_WORDS = re.compile(r"seed|random_state|rng|generator|shuffle", re.IGNORECASE)
NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def changed_line_pairs(diff: str) -> Optional[List[Tuple[str, str, str]]]:
    """(file, removed line, added line) for each hunk that replaces lines one for one; None otherwise."""
    pairs = []
    path = None
    removed: List[str] = []
    added: List[str] = []

    def flush() -> bool:
        if len(removed) != len(added):
            return False
        pairs.extend((path, old, new) for old, new in zip(removed, added))
        removed.clear()
        added.clear()
        return True

    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith(("--- ", "diff ", "index ", "new file", "deleted file", "similarity", "rename")):
            continue
        elif line.startswith("@@"):
            if not flush():
                return None
        elif line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
    return pairs if flush() else None


def only_changes_seeds(cwd: str, rev: str = "HEAD") -> Optional[str]:
    """A short description when every changed line of `rev` differs from its old version only in numbers
    and names a seed; None otherwise (or when `rev` has no parent)."""
    result = gitops.git(cwd, "diff", "-U0", "--no-color", f"{rev}^", rev, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return None
    pairs = changed_line_pairs(result.stdout)
    if not pairs:
        return None
    for _, old, new in pairs:
        if NUMBER.sub("#", old).strip() != NUMBER.sub("#", new).strip() or old.strip() == new.strip():
            return None
        if not SEED_WORDS.search(old):
            return None
    path, old, new = pairs[0]
    return f"a random seed ({path}: {old.strip()} -> {new.strip()})"
