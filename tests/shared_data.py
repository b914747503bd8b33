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


def shared_file(*parts: str) -> Path:
    """The path of a file under ../shared/data, or skip the calling test if it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not found at {path} (clone without ../shared; set GREKKO_SHARED_DIR)"
        )
    return path
