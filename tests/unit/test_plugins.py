"""PluginManager against real installed distributions: dist-info folders as pip leaves them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from grekko.core.errors import PluginError
from grekko.core.time import TestClock
from grekko.engines.bus import MessageBus
from grekko.plugins import GROUPS, Plugin, PluginContext, PluginInfo, PluginManager, PluginState

MODULE = "grekko_unit_test_plugins"
AGENTS = "grekko.agents"

PLUGIN_SOURCE = '''
class Recorder:
    """Records each hook; fails in the hook named by fail_in."""

    def __init__(self, fail_in=None):
        self.name = "test_recorder"
        self.fail_in = fail_in
        self.calls = []
        self.ctx = None

    def _hook(self, hook):
        self.calls.append(hook)
        if hook == self.fail_in:
            raise RuntimeError(f"boom in {hook}")

    def initialize(self, ctx):
        self.ctx = ctx
        self._hook("initialize")

    def activate(self):
        self._hook("activate")

    def deactivate(self):
        self._hook("deactivate")

    def dispose(self):
        self._hook("dispose")


class HalfPlugin:
    def __init__(self):
        self.name = "half"

    def initialize(self, ctx):
        pass


def broken_factory():
    raise ValueError("cannot build")
'''


def install_distribution(
    site: Path, dist: str, version: str, entry_points: dict[str, dict[str, str]]
) -> None:
    """Write the metadata pip writes for an installed distribution (name, version, entry points)."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {value}" for name, value in names.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{MODULE}.py").write_text(PLUGIN_SOURCE)
    (site / f"{MODULE}_broken.py").write_text("raise ImportError('a dependency is missing')\n")
    install_distribution(
        site,
        "grekko-unit-test-plugins",
        "1.2.3",
        {
            AGENTS: {
                "test_recorder": f"{MODULE}:Recorder",
                "test_half": f"{MODULE}:HalfPlugin",
                "test_broken_factory": f"{MODULE}:broken_factory",
                "test_import_fails": f"{MODULE}_broken:Anything",
            },
        },
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m.startswith(MODULE)]:
        del sys.modules[name]


@pytest.fixture
def ctx() -> PluginContext:
    return PluginContext(bus=MessageBus(), clock=TestClock(), settings={"mode": "paper"})


def test_discover_lists_installed_plugins_with_their_distribution(site: Path) -> None:
    infos = PluginManager().discover(AGENTS)

    assert (
        PluginInfo(
            AGENTS, "test_recorder", f"{MODULE}:Recorder", "grekko-unit-test-plugins", "1.2.3"
        )
        in infos
    )
    assert [i.name for i in infos if i.distribution == "grekko-unit-test-plugins"] == [
        "test_broken_factory",
        "test_half",
        "test_import_fails",
        "test_recorder",
    ]


def test_builtins_are_discovered_through_the_same_entry_points(site: Path) -> None:
    builtins = [i for i in PluginManager().discover() if i.distribution == "grekko"]

    assert {(i.group, i.name) for i in builtins} >= {
        ("grekko.strategies", "sma_cross"),
        ("grekko.venues", "paper"),
    }
    assert all(i.group in GROUPS for i in builtins)


def test_unknown_group_lists_the_groups() -> None:
    with pytest.raises(
        PluginError, match=r"unknown plugin group 'grekko.nope'; groups: grekko.venues, "
    ):
        PluginManager().discover("grekko.nope")
    with pytest.raises(PluginError, match="unknown plugin group"):
        PluginManager().load("grekko.nope", "x")


def test_unknown_name_lists_what_is_available(site: Path) -> None:
    with pytest.raises(
        PluginError, match=r"no plugin 'nope' in group grekko.agents; available: .*test_recorder"
    ):
        PluginManager().load(AGENTS, "nope")


def test_load_is_cached_until_unload(site: Path) -> None:
    manager = PluginManager()
    first = manager.load(AGENTS, "test_recorder")

    assert first.__name__ == "Recorder"
    assert manager.load(AGENTS, "test_recorder") is first
    assert [i.name for i in manager.loaded()] == ["test_recorder"]

    manager.unload(AGENTS, "test_recorder")
    assert manager.loaded() == []


def test_import_failure_names_the_plugin_and_chains_the_cause(site: Path) -> None:
    with pytest.raises(
        PluginError, match=r"grekko.agents:test_import_fails from grekko-unit-test-plugins 1.2.3"
    ) as err:
        PluginManager().load(AGENTS, "test_import_fails")
    assert isinstance(err.value.__cause__, ImportError)


def test_duplicate_names_from_two_distributions_are_refused(site: Path) -> None:
    install_distribution(
        site, "grekko-other-plugins", "0.9", {AGENTS: {"test_recorder": f"{MODULE}:HalfPlugin"}}
    )

    with pytest.raises(PluginError, match="declared twice") as err:
        PluginManager().load(AGENTS, "test_recorder")
    assert "grekko-unit-test-plugins 1.2.3" in str(err.value)
    assert "grekko-other-plugins 0.9" in str(err.value)


def test_start_runs_initialize_then_activate(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()
    plugin = manager.start(AGENTS, "test_recorder", ctx)

    assert isinstance(plugin, Plugin)
    assert plugin.calls == ["initialize", "activate"]
    assert plugin.ctx is ctx
    assert manager.state(plugin) is PluginState.ACTIVE
    assert manager.instances(AGENTS) == [plugin]


def test_full_lifecycle_with_reactivation(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()
    plugin = manager.start(AGENTS, "test_recorder", ctx)

    manager.deactivate(plugin)
    assert manager.state(plugin) is PluginState.INACTIVE
    manager.activate(plugin)
    assert manager.state(plugin) is PluginState.ACTIVE
    manager.stop(plugin)

    assert plugin.calls == [
        "initialize",
        "activate",
        "deactivate",
        "activate",
        "deactivate",
        "dispose",
    ]
    assert manager.state(plugin) is PluginState.DISPOSED
    assert manager.instances() == []


@pytest.mark.parametrize(
    ("moves", "bad_move", "state"),
    [
        ([], "activate", "active"),
        ([], "dispose", "active"),
        (["deactivate"], "deactivate", "inactive"),
        (["deactivate", "dispose"], "activate", "disposed"),
        (["deactivate", "dispose"], "dispose", "disposed"),
    ],
)
def test_invalid_lifecycle_moves_are_refused(
    site: Path, ctx: PluginContext, moves: list[str], bad_move: str, state: str
) -> None:
    manager = PluginManager()
    plugin = manager.start(AGENTS, "test_recorder", ctx)
    for move in moves:
        getattr(manager, move)(plugin)
    calls_before = list(plugin.calls)

    with pytest.raises(
        PluginError, match=rf"cannot {bad_move} plugin grekko.agents:test_recorder in state {state}"
    ):
        getattr(manager, bad_move)(plugin)
    assert plugin.calls == calls_before
    assert manager.state(plugin).value == state


def test_initialize_twice_is_refused(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()
    plugin = manager.start(AGENTS, "test_recorder", ctx)

    with pytest.raises(
        PluginError,
        match=r"cannot initialize .* in state active; initialize is allowed from: loaded",
    ):
        manager.initialize(plugin, ctx)


@pytest.mark.parametrize("hook", ["initialize", "activate"])
def test_failing_start_hook_marks_failed_and_chains(
    site: Path, ctx: PluginContext, hook: str
) -> None:
    manager = PluginManager()

    with pytest.raises(
        PluginError, match=f"plugin grekko.agents:test_recorder failed in {hook}"
    ) as err:
        manager.start(AGENTS, "test_recorder", ctx, fail_in=hook)

    assert isinstance(err.value.__cause__, RuntimeError)
    assert str(err.value.__cause__) == f"boom in {hook}"
    [failed] = manager.instances(AGENTS, "test_recorder", states={PluginState.FAILED})
    assert manager.state(failed) is PluginState.FAILED
    assert manager.instances() == []
    with pytest.raises(PluginError, match="in state failed"):
        manager.activate(failed)

    manager.dispose(failed)  # a failed plugin still gets the chance to release what it holds
    assert manager.state(failed) is PluginState.DISPOSED


def test_failing_deactivate_marks_failed(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()
    plugin = manager.start(AGENTS, "test_recorder", ctx, fail_in="deactivate")

    with pytest.raises(PluginError, match="failed in deactivate"):
        manager.stop(plugin)
    assert manager.state(plugin) is PluginState.FAILED
    manager.unload(AGENTS, "test_recorder")  # a failed instance no longer blocks unloading


def test_constructor_failure_and_incomplete_plugins(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()

    with pytest.raises(PluginError, match="test_broken_factory failed in construct") as err:
        manager.start(AGENTS, "test_broken_factory", ctx)
    assert isinstance(err.value.__cause__, ValueError)

    with pytest.raises(
        PluginError, match="does not implement Plugin: missing activate, deactivate, dispose"
    ):
        manager.start(AGENTS, "test_half", ctx)


def test_objects_not_started_by_the_manager_are_refused(site: Path) -> None:
    with pytest.raises(PluginError, match="was not started by this plugin manager"):
        PluginManager().state(object())


def test_reload_returns_the_new_object(site: Path) -> None:
    manager = PluginManager()
    before = manager.load(AGENTS, "test_recorder")
    (site / f"{MODULE}.py").write_text(
        PLUGIN_SOURCE + "\nRecorder.reloaded_marker = 'yes, reloaded'\n"
    )

    after = manager.reload(AGENTS, "test_recorder")

    assert after is not before
    assert after.reloaded_marker == "yes, reloaded"
    assert not hasattr(before, "reloaded_marker")
    assert manager.load(AGENTS, "test_recorder") is after


def test_reload_failure_is_a_plugin_error(site: Path) -> None:
    manager = PluginManager()
    manager.load(AGENTS, "test_recorder")
    (site / f"{MODULE}.py").write_text("this is not python at all (\n")

    with pytest.raises(PluginError, match="test_recorder failed in reload") as err:
        manager.reload(AGENTS, "test_recorder")
    assert isinstance(err.value.__cause__, SyntaxError)


def test_context_is_frozen_with_empty_extras(ctx: PluginContext) -> None:
    assert dict(ctx.extras) == {}
    with pytest.raises(FrozenInstanceError):
        ctx.settings = None  # type: ignore[misc]
    with_extras = PluginContext(ctx.bus, ctx.clock, ctx.settings, extras={"event_store": "db"})
    assert with_extras.extras["event_store"] == "db"
