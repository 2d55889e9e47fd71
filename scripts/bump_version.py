#!/usr/bin/env python3
"""Show, check or bump the bundle's one version number, everywhere it is written.

The version is defined in skills/autoresearch/scripts/autoresearch_engine/__init__.py (__version__) and
repeated in .claude-plugin/plugin.json, .claude-plugin/marketplace.json and the metadata.version of both
SKILL.md files.

    scripts/bump_version.py              print the version and where it is written
    scripts/bump_version.py --check      exit 1 when any copy differs from __version__
    scripts/bump_version.py patch        0.1.0 -> 0.1.1 (also: minor, major)
    scripts/bump_version.py 1.2.3        set an explicit version
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Dict, List

SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.+-]+)?$")

# path -> pattern whose group 2 is a version (groups 1 and 3 are kept as they are)
PLACES = {
    "skills/autoresearch/scripts/autoresearch_engine/__init__.py": r'^(__version__\s*=\s*")([^"]*)(")',
    ".claude-plugin/plugin.json": r'("version"\s*:\s*")([^"]*)(")',
    ".claude-plugin/marketplace.json": r'("version"\s*:\s*")([^"]*)(")',
    "skills/autoresearch/SKILL.md": r'(?<=\n)(  version:\s*"?)([^"\n]*)("?)$',
    "skills/autoresearch-ml/SKILL.md": r'(?<=\n)(  version:\s*"?)([^"\n]*)("?)$',
}
SOURCE = "skills/autoresearch/scripts/autoresearch_engine/__init__.py"


class BumpError(Exception):
    pass


def _front_matter_end(text: str) -> int:
    """Where a SKILL.md front matter ends; version lines are only looked for before it."""
    if not text.startswith("---\n"):
        return 0
    end = text.find("\n---", 3)
    return len(text) if end == -1 else end


def _span(path: str, text: str) -> int:
    return _front_matter_end(text) if path.endswith("SKILL.md") else len(text)


def read_versions(root: str) -> Dict[str, List[str]]:
    """Every version string found, per file (relative path)."""
    found = {}
    for path, pattern in PLACES.items():
        full = os.path.join(root, path)
        try:
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise BumpError(f"{path} is missing; the version must be written there.") from None
        head = text[: _span(path, text)]
        found[path] = [m.group(2) for m in re.finditer(pattern, head, flags=re.MULTILINE)]
        if not found[path]:
            raise BumpError(f"{path} has no version field where one is expected.")
    return found


def current(root: str) -> str:
    return read_versions(root)[SOURCE][0]


def mismatches(root: str) -> List[str]:
    versions = read_versions(root)
    want = versions[SOURCE][0]
    return [f"{path}: {v}" for path, values in versions.items() for v in values if v != want]


def next_version(old: str, how: str) -> str:
    if SEMVER.match(how):
        return how
    match = SEMVER.match(old)
    if how not in ("major", "minor", "patch"):
        raise BumpError(f"{how!r} is neither a version like 1.2.3 nor one of major, minor, patch.")
    if not match:
        raise BumpError(f"the current version {old!r} is not of the form 1.2.3; give the new one explicitly.")
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    if how == "major":
        return f"{major + 1}.0.0"
    if how == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def bump(root: str, new: str) -> List[str]:
    if not SEMVER.match(new):
        raise BumpError(f"{new!r} is not a version like 1.2.3.")
    read_versions(root)  # every place must be there before any is written
    changed = []
    for path, pattern in PLACES.items():
        full = os.path.join(root, path)
        with open(full, encoding="utf-8") as handle:
            text = handle.read()
        cut = _span(path, text)
        head = re.sub(pattern, lambda m: m.group(1) + new + m.group(3), text[:cut], flags=re.MULTILINE)
        updated = head + text[cut:]
        if updated != text:
            temp = f"{full}.tmp-{os.getpid()}"
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(updated)
            os.replace(temp, full)
            changed.append(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Show, check or bump the one version of the bundle.")
    parser.add_argument("version", nargs="?", help="major, minor, patch, or an explicit version like 1.2.3")
    parser.add_argument("--check", action="store_true", help="exit 1 when a copy differs from __version__")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="repository root (default: this script's repository)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            wrong = mismatches(args.root)
            if wrong:
                print(f"bump_version: versions differ from {SOURCE} ({current(args.root)}): {'; '.join(wrong)}; "
                      "run scripts/bump_version.py with the version you want.", file=sys.stderr)
                return 1
            print(f"version {current(args.root)} everywhere ({len(PLACES)} files)")
            return 0
        if args.version is None:
            print(current(args.root))
            for path, values in read_versions(args.root).items():
                print(f"  {path}: {', '.join(values)}")
            return 0
        new = next_version(current(args.root), args.version)
        changed = bump(args.root, new)
        print(f"version {new}: {len(changed)} files updated" + (f" ({', '.join(changed)})" if changed else ""))
        return 0
    except BumpError as exc:
        print(f"bump_version: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
