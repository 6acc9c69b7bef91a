"""Installing from source as an operator does: `pip install ./mcp-py` in a
terminal shows cargo's progress while the wheel builds, which pip would hide
without `-v` (mcp-py/packaging/progress_backend.py); without a terminal the
output is pip's alone. A debug build in the shared target directory, so it
reuses what the test command built."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, TARGET


def test_pip_shows_cargos_progress_on_the_terminal(tmp_path: Path) -> None:
    # Without build isolation the backend runs the maturin of this environment.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(os.environ, PATH=path, CARGO_TARGET_DIR=str(TARGET), MATURIN_PEP517_ARGS="--profile dev")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    pip.append(str(ROOT / "mcp-py"))
    # maturin leaves a copy of each wheel in the target directory: only ours are removed.
    before = set((TARGET / "wheels").glob("*.whl"))
    try:
        run_pip(pip, env, tmp_path)
    finally:
        for extra in set((TARGET / "wheels").glob("*.whl")) - before:
            extra.unlink()


def run_pip(pip: list[str], env: dict[str, str], out: Path) -> None:
    # script(1) runs pip on a terminal of its own and prints what reached it.
    shown = subprocess.run(
        ["script", "-qec", shlex.join(pip), "/dev/null"], env=env, capture_output=True, text=True, timeout=900
    )
    assert shown.returncode == 0, shown.stdout
    assert "building the native module with cargo" in shown.stdout, shown.stdout
    assert "Finished" in shown.stdout, shown.stdout
    # No terminal (a new session: none to open), as in CI or a log.
    quiet = subprocess.run(pip, env=env, capture_output=True, text=True, timeout=900, start_new_session=True)
    assert quiet.returncode == 0, quiet.stderr
    assert "Finished" not in quiet.stdout + quiet.stderr, quiet.stdout
    assert len(list(out.glob("metacircular_mcp-*.whl"))) == 1
