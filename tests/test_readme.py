"""The README gives exactly two fresh-machine commands, and CI runs the second one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for b in blocks for line in b.splitlines() if line.strip() and not line.startswith("#")]


def test_exactly_two_commands_main_job_and_tests():
    cmds = _commands()
    assert len(cmds) == 2, cmds
    assert "python -m compare phase3 --eta 5e-4" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    steps = [s.strip() for s in _commands()[1].split("&&")]
    for step in steps:
        if step.startswith(("pip install", "python -m pytest")):
            assert step in ci, f"{step!r} is not in .ci/run"
