"""Every reason a test gives for skipping tells a newcomer what to do: install something, put files somewhere,
set a variable, or that there is nothing to do."""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACTIONS = ("install", "put ", "set ", "nothing to do")


def skip_reasons():
    """(file:line, reason text) of each skip, skipif or importorskip in the test files; f-string holes as {}."""
    trees = {}
    for root, _, names in os.walk(os.path.join(REPO, "tests")):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                trees[os.path.relpath(path, REPO)] = ast.parse(open(path, encoding="utf-8").read())
    constants = {}  # module-level names of every test file (a reason may be imported from a helper)
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                constants[node.targets[0].id] = node.value
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            kind = getattr(node.func, "attr", None) if isinstance(node, ast.Call) else None
            if kind not in ("skip", "skipif", "importorskip"):
                continue
            reasons = [kw.value for kw in node.keywords if kw.arg == "reason"] or (node.args[:1] if kind == "skip" else [])
            if not reasons:
                found.append((f"{path}:{node.lineno}", "(pytest's default reason)"))
            for reason in reasons:
                if isinstance(reason, ast.Name) and reason.id in constants:
                    reason = constants[reason.id]
                found.append((f"{path}:{node.lineno}", text_of(reason)))
    return found


def text_of(node):
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp):
        return text_of(node.left) + text_of(node.right)
    return "{}"


def test_every_skip_reason_says_what_to_do():
    reasons = skip_reasons()
    assert len(reasons) >= 8, reasons  # the scan finds the skips it is meant to check
    vague = [(where, text) for where, text in reasons
             if not any(action in text.lower() for action in ACTIONS)]
    assert not vague, vague
