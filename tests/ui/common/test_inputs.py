"""ui/common/inputs.py: the method menu's help comes from the registry, one line per method in menu order."""
from __future__ import annotations

from camcore.cams import METHODS
from ui.common.inputs import methods_help


def test_the_method_help_names_every_method_with_its_summary() -> None:
    lines = methods_help().splitlines()
    assert len(lines) == len(METHODS) == 9
    for line, method in zip(lines, METHODS.values()):
        assert line == f"- **{method.label}**: {method.summary}."
