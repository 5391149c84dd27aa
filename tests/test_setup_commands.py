"""The README's two set-up commands: one installs and starts the dashboard, one runs the checks, and `.ci/run` runs
exactly the second (it reads it from the README with the awk program checked here), with pytest reporting the
reason of every skip in both."""
from __future__ import annotations

import re
import subprocess
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
    script = (ROOT / ".ci" / "run").read_text()
    [program] = re.findall(r"awk '([^']+)' README\.md", script)
    extracted = subprocess.run(["awk", program, "README.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert extracted.stdout.strip() == readme_commands()[1]
    assert 'bash -c "$test_command"' in script


def test_every_skip_prints_its_reason() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-ra" in options["addopts"].split()
