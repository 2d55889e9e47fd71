"""The README's two commands stay true: the demo runs green offline, and CI runs the test command."""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_commands():
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    setup = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    assert readme_commands() == ["python3 scripts/demo.py", "scripts/test.sh"]


def test_ci_runs_the_readme_test_command():
    ci = open(os.path.join(REPO, ".ci", "run"), encoding="utf-8").read()
    test_command = readme_commands()[1]
    assert any(line.strip() == test_command for line in ci.splitlines())


def test_demo_loop_runs_offline_with_the_expected_outcomes(tmp_path):
    env = dict(os.environ, no_proxy="*", http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "demo.py"), "--no-ml",
                             "--workdir", str(tmp_path / "demo")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcomes: keep, keep, discard, crash, checks_failed — as expected" in result.stdout
    assert "# autoresearch resume: fewer comparisons in sort" in result.stdout
    assert "runs: 5 (kept 2, discarded 1, crashed 1, checks failed 1)" in result.stdout
    resume = result.stdout.split("# autoresearch resume", 1)[1].split("=== git history", 1)[0]
    assert "- [ ] binary insertion" in resume, "the idea nobody tried is still open"
    assert "- [ ] merge sort" not in resume and "- [ ] bubble sort" not in resume, "tried ideas are not offered again"
