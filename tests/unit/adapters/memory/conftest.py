"""Puts tests/ on sys.path so the shared port contracts import as `contracts.*`."""

import sys
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parents[3])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
pytest.register_assert_rewrite("contracts")
