"""Where ../shared/data is, and a skip with a clear reason on a clone that lacks it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_dir() -> Path:
    configured = os.environ.get("GREKKO_SHARED_DIR")
    if configured:
        return Path(configured)
    return (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()


SHARED_DATA = shared_dir() / "data"


BUNDLED_COPIES = Path(__file__).resolve().parent / "fixtures" / "shared"


def shared_file(*parts: str) -> Path:
    """The path of a file under ../shared/data (or of its bundled whole copy in
    tests/fixtures/shared), or skip the calling test if neither is there."""
    shared = SHARED_DATA.joinpath(*parts)
    if shared.exists():
        return shared
    copy = BUNDLED_COPIES.joinpath(*parts)
    if not copy.exists():
        pytest.skip(
            f"real data not found at {shared} (clone without ../shared; set GREKKO_SHARED_DIR)"
        )
    return copy
