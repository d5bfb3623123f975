"""entrypoint.sh behaviour, against stand-in programs (no Python stack, milliseconds each)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "entrypoint.sh"
SCRIPTS = [ENTRYPOINT, REPO / "scripts" / "build_image.sh", REPO / "scripts" / "make_base_image.sh"]

# A stand-in for container/train and container/serve: reports its pid, uid, HOME, the kernel's
# no_new_privs flag and argv.
PROGRAM = (
    "#!/usr/bin/env bash\n"
    "nnp=$(awk '/^NoNewPrivs:/ {print $2}' /proc/self/status)\n"
    'echo "mode=$(basename "$0") pid=$$ uid=$(id -u) home=$HOME nnp=$nnp args=$*"\n'
)


@pytest.fixture
def program_dir() -> Iterator[Path]:
    # not under tmp_path: pytest makes that 0700, and the dropped user must reach the programs
    with tempfile.TemporaryDirectory(prefix="retailsage-entrypoint-") as name:
        directory = Path(name)
        directory.chmod(0o755)
        for mode in ("train", "serve"):
            path = directory / mode
            path.write_text(PROGRAM)
            path.chmod(0o755)
        yield directory


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )


def fields(stdout: str) -> dict[str, str]:
    head, _, args = stdout.strip().partition(" args=")
    return dict(item.split("=", 1) for item in head.split()) | {"args": args}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_strict_executable_bash(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=10)


def test_no_mode_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert result.stderr.startswith("usage: entrypoint.sh train|serve")


@pytest.mark.parametrize("mode", ["bogus", "Train", "--serve", ""])
def test_unknown_mode_is_a_usage_error(mode: str) -> None:
    result = run(mode)
    assert result.returncode == 2
    assert f"error: unknown mode '{mode}'" in result.stderr
    assert "usage:" in result.stderr
    assert result.stdout == ""


def test_help_exits_zero() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "train" in result.stderr and "serve" in result.stderr


@pytest.mark.parametrize("mode", ["train", "serve"])
def test_mode_is_execd_with_its_arguments(program_dir: Path, mode: str) -> None:
    env = {**os.environ, "RETAILSAGE_PROGRAM_DIR": str(program_dir), "RETAILSAGE_SERVE_USER": ""}
    process = subprocess.Popen(
        [str(ENTRYPOINT), mode, "--flag", "two words"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    stdout, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    seen = fields(stdout)
    assert seen["mode"] == mode
    assert seen["args"] == "--flag two words"
    # exec: the program replaced the entrypoint's shell, so it kept the pid (PID 1 in a container)
    assert int(seen["pid"]) == process.pid


def test_program_exit_status_passes_through(tmp_path: Path) -> None:
    (tmp_path / "train").write_text("#!/usr/bin/env bash\nexit 7\n")
    (tmp_path / "train").chmod(0o755)
    assert run("train", env={"RETAILSAGE_PROGRAM_DIR": str(tmp_path)}).returncode == 7


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs a root test run")
def test_serve_as_root_drops_to_the_serve_user(program_dir: Path) -> None:
    result = run(
        "serve", env={"RETAILSAGE_PROGRAM_DIR": str(program_dir), "RETAILSAGE_SERVE_USER": "nobody"}
    )
    assert result.returncode == 0, result.stderr
    seen = fields(result.stdout)
    assert seen["uid"] == "65534"
    assert seen["nnp"] == "1"  # no setuid binary can regain root after the drop
    assert (
        seen["home"]
        == subprocess.run(
            ["getent", "passwd", "nobody"], capture_output=True, text=True, check=True
        ).stdout.split(":")[5]
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs a root test run")
def test_train_keeps_root_even_with_a_serve_user(program_dir: Path) -> None:
    result = run(
        "train", env={"RETAILSAGE_PROGRAM_DIR": str(program_dir), "RETAILSAGE_SERVE_USER": "nobody"}
    )
    assert fields(result.stdout)["uid"] == "0"


@pytest.mark.skipif(os.geteuid() != 0, reason="the account check only runs as root")
def test_unknown_serve_user_is_a_clear_error(program_dir: Path) -> None:
    env = {"RETAILSAGE_PROGRAM_DIR": str(program_dir), "RETAILSAGE_SERVE_USER": "no-such-user"}
    result = run("serve", env=env)
    assert result.returncode == 2
    assert "RETAILSAGE_SERVE_USER='no-such-user' is not an account" in result.stderr


def test_build_script_help_and_bad_argument() -> None:
    script = str(REPO / "scripts" / "build_image.sh")
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=10)
    assert helped.returncode == 0 and "--wheelhouse" in helped.stdout
    bad = subprocess.run([script, "--bogus"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "unknown argument '--bogus'" in bad.stderr
