"""Build hook: compile the kernel's hot modules with mypyc (part of mypy) into C extensions.

Metadata lives in pyproject.toml. The modules stay plain Python source; the compiled form only
makes them faster (about 1.7x on the backtest loop). If no C compiler is available, or
GREKKO_PURE_PYTHON=1 is set, the package installs and runs as pure Python.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HOT_MODULES = [
    "src/grekko/core/ids.py",
    "src/grekko/core/money.py",
    "src/grekko/core/time.py",
    "src/grekko/domain/accounts.py",
    "src/grekko/domain/orders.py",
    "src/grekko/domain/positions.py",
    "src/grekko/engines/bus.py",
    "src/grekko/engines/cache.py",
    "src/grekko/engines/data_engine.py",
    "src/grekko/engines/execution_engine.py",
    "src/grekko/engines/portfolio.py",
    "src/grekko/engines/risk_engine.py",
    "src/grekko/engines/trader.py",
    "src/grekko/engines/streamer.py",
    "src/grekko/engines/ingest/aggregator.py",
    "src/grekko/engines/ingest/enricher.py",
    "src/grekko/engines/ingest/metrics.py",
    "src/grekko/engines/ingest/normalizer.py",
    "src/grekko/engines/ingest/pipeline.py",
    "src/grekko/engines/ingest/quarantine.py",
    "src/grekko/engines/ingest/validator.py",
    "src/grekko/domain/symbols.py",
    "src/grekko/adapters/memory/event_store.py",
    "src/grekko/adapters/paper/matching.py",
    "src/grekko/adapters/paper/venue.py",
    "src/grekko/agents/strategies/base.py",
    "src/grekko/agents/strategies/sma_cross.py",
]


class OptionalBuildExt(build_ext):
    """A failed compile leaves the pure-Python modules in place instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: stay pure Python
            print(f"grekko: compiling the hot modules failed ({exc}); using pure Python", file=sys.stderr)

    def build_extension(self, ext) -> None:  # noqa: ANN001
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"grekko: could not compile {ext.name} ({exc}); it stays pure Python", file=sys.stderr)


def ext_modules() -> list:
    if os.environ.get("GREKKO_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        return mypycify(HOT_MODULES, opt_level="3", group_name="grekko_native")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a type-check failure means: stay pure Python
        print(f"grekko: mypyc could not compile the hot modules ({exc}); using pure Python", file=sys.stderr)
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
