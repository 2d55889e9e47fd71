"""`pip install -e .` leaves the skill folders as they are: a copied skill folder carries no build output."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "skills"))
from skilldocs import make_clone  # noqa: E402

# The PEP 660 hooks pip calls for an editable install, in its order, each in a process of its own;
# nothing is installed into the test environment.
HOOKS = (
    "build_meta.get_requires_for_build_editable()",
    "print(build_meta.prepare_metadata_for_build_editable(METADATA))",
    "build_meta.build_editable(WHEEL, None, os.path.join(METADATA, os.listdir(METADATA)[0]))",
)


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, _, names in os.walk(root) for n in names)


def test_an_editable_build_writes_nothing_into_the_skill_folders(tmp_path):
    clone = make_clone(str(tmp_path / "clone"))
    skills = os.path.join(clone, "skills")
    before = files_under(skills)
    metadata, wheel = tmp_path / "metadata", tmp_path / "wheel"
    metadata.mkdir()
    wheel.mkdir()
    for hook in HOOKS:
        code = f"import os\nfrom setuptools import build_meta\nMETADATA, WHEEL = {str(metadata)!r}, {str(wheel)!r}\n{hook}\n"
        result = subprocess.run([sys.executable, "-c", code], cwd=clone, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert any(name.endswith(".whl") for name in os.listdir(wheel))
    assert files_under(skills) == before
