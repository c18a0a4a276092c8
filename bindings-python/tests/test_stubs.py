"""The `.pyi` stubs match the native module (mypy.stubtest), and the package type-checks
against them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "oathmesh"


def test_stubs_match_the_runtime() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "oathmesh._native", "--ignore-disjoint-bases"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_installed_package_ships_stubs_and_marker() -> None:
    import oathmesh

    installed = Path(oathmesh.__file__).parent
    assert (installed / "py.typed").exists() and (installed / "_native.pyi").exists()


def test_package_type_checks_strictly() -> None:
    # Django ships no type information; everything else is checked against real types.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--no-incremental", "-p", "oathmesh"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
