"""The CLI silences jsii's Node.js version banner exactly as the Makefile does."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from retailsage.pipeline.deployment import NODE_BANNER_SILENCE, quiet_node_version_banner

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def test_values_match_the_makefile_exports() -> None:
    exports = dict(
        re.findall(r"^export (JSII_SILENCE_\w+) := (\S+)$", MAKEFILE.read_text(), re.MULTILINE)
    )
    assert exports == NODE_BANNER_SILENCE


def test_sets_only_what_the_user_left_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    names = list(NODE_BANNER_SILENCE)
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(names[0], "")  # the user wants to see the end-of-life banner
    quiet_node_version_banner()

    assert os.environ[names[0]] == ""
    assert os.environ[names[1]] == NODE_BANNER_SILENCE[names[1]]
