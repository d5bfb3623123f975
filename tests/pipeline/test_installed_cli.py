"""The installed ``retailsage`` command, run as a user runs it (no pytest ``pythonpath``).

pytest puts the checkout root on ``sys.path`` for in-process tests, which hides an import of the
uninstalled ``infra``/``lambdas`` packages at module level; these subprocesses do not get it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import sys; from retailsage.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_pipeline_module_imports_from_any_directory(tmp_path: Path) -> None:
    import retailsage.pipeline as package

    names = sorted(p.stem for p in Path(package.__file__).parent.glob("*.py") if p.stem[0] != "_")
    code = "; ".join(f"import retailsage.pipeline.{name}" for name in names)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "run" in names and "export" in names


def test_pipeline_show_lists_no_runs_outside_the_checkout(tmp_path: Path) -> None:
    result = _run_cli(["pipeline", "show", "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no runs with exported predictions" in result.stdout
