"""maturin's PEP 517 build backend, with cargo's progress on the terminal.

pip keeps a build backend's output to itself unless it is run with `-v`, and
a first build of the wheel compiles some 230 crates: minutes in which
`pip install ./mcp-py` would print nothing. While the wheel builds, this
backend points the build's standard error at the terminal pip runs in (when
there is one), so cargo's progress is seen as it goes; without a terminal
(CI, a log) nothing changes. Every other hook is maturin's own, but for the
optional metadata hooks, left out: pip then takes the metadata from the wheel
it builds (and keeps that wheel), so the one build it runs is the one shown,
and it is built with exactly the arguments a wheel build gets.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator, Mapping, Optional

from maturin import (  # noqa: F401 (the hooks pip calls, as maturin has them)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)
import maturin


@contextlib.contextmanager
def _on_terminal() -> Iterator[None]:
    """Standard error (file descriptor 2, which cargo inherits) on the
    controlling terminal, if there is one, until the block ends."""
    try:
        tty: Optional[int] = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        tty = None
    if tty is None:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(tty, 2)
        os.write(2, b"metacircular_mcp: building the native module with cargo (a few minutes the first time)\n")
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(tty)


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    with _on_terminal():
        return str(maturin.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    with _on_terminal():
        return str(maturin.build_editable(wheel_directory, config_settings, metadata_directory))
