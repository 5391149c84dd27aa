"""The README's two set-up commands: one installs and starts the dashboard, one runs the checks, and `.ci/run` runs
exactly the second (written out as its last line, checked here), with pytest reporting the reason of every skip
in both."""
from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
BASH_BLOCK = re.compile(r"^```bash\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def readme_commands() -> list[str]:
    return BASH_BLOCK.findall((ROOT / "README.md").read_text())


def test_the_readme_has_two_one_line_set_up_commands() -> None:
    install_and_start, checks = readme_commands()
    assert "\n" not in install_and_start and install_and_start.endswith("streamlit run app.py")
    assert "\n" not in checks and checks.endswith(".venv/bin/python -m pytest")


def test_ci_runs_the_readmes_test_command() -> None:
    """.ci/run's last command is the README's test command, character for character (set -e: it is what fails)."""
    script = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert commands[-1] == readme_commands()[1]
    assert "set -euo pipefail" in commands


def test_every_skip_prints_its_reason() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-ra" in options["addopts"].split()
