"""A third-party plugin package, built and installed by pip, then found and run by PluginManager."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grekko.core.errors import PluginError
from grekko.core.time import TestClock
from grekko.engines.bus import MessageBus
from grekko.plugins import PluginContext, PluginManager, PluginState

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "external_plugin"
GROUP = "grekko.strategies"
NAME = "example_echo"

pytestmark = pytest.mark.slow


def build_wheel_without_setuptools(project: Path, out_dir: Path) -> Path:
    """The offline fallback when the venv has no setuptools: a wheel is a zip with a dist-info."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        path.relative_to(project / "src").as_posix(): path.read_text()
        for path in sorted((project / "src").rglob("*.py"))
    }
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in names.items())
        for group, names in meta["entry-points"].items()
    )
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    wheel = out_dir / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def installed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip builds the fixture package offline (no isolation, no deps) into a private target dir."""
    work = tmp_path_factory.mktemp("external_plugin")
    source = work / "src"
    shutil.copytree(
        FIXTURE, source
    )  # the in-tree build writes build/ and egg-info: not in the repo
    if importlib.util.find_spec("setuptools") is None or os.environ.get(
        "PLUGIN_FIXTURE_NO_SETUPTOOLS"
    ):
        target = build_wheel_without_setuptools(source, work)
    else:
        target = source
    site = work / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    offline = ["--no-deps", "--no-build-isolation", "--no-compile", "--no-index"]
    result = subprocess.run(
        [*pip, *offline, "--target", str(site), str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return site


@pytest.fixture
def site(installed_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(installed_site))
    yield installed_site
    for module in [m for m in sys.modules if m.split(".")[0] == "grekko_example_plugin"]:
        del sys.modules[module]


@pytest.fixture
def ctx() -> PluginContext:
    return PluginContext(bus=MessageBus(), clock=TestClock(start_ns=1_000), settings=None)


def test_discovers_the_installed_distribution(site: Path) -> None:
    infos = [i for i in PluginManager().discover(GROUP) if i.name == NAME]

    assert len(infos) == 1
    info = infos[0]
    assert info.value == "grekko_example_plugin.echo:EchoStrategy"
    assert (info.distribution, info.version) == ("grekko-example-plugin", "0.1.0")
    assert info in PluginManager().discover()


def test_start_echo_reload_stop(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()
    received: list[object] = []
    ctx.bus.subscribe("example.out", received.append)

    echo = manager.start(GROUP, NAME, ctx)
    message = {"price": "101.5"}
    ctx.bus.publish("example.in", message)

    assert received == [message]
    assert received[0] is message
    assert manager.state(echo) is PluginState.ACTIVE

    module_file = site / "grekko_example_plugin" / "echo.py"
    module_file.write_text(module_file.read_text().replace("REVISION = 1", "REVISION = 20002"))
    old_class = manager.load(GROUP, NAME)
    new_class = manager.reload(GROUP, NAME)

    assert new_class is not old_class
    assert (old_class.revision, new_class.revision) == (1, 20002)
    assert manager.load(GROUP, NAME) is new_class

    second = manager.start(GROUP, NAME, ctx, source_topic="example.in2")
    assert type(second) is new_class
    ctx.bus.publish("example.in2", "second")
    assert received == [message, "second"]

    manager.stop(echo)
    manager.stop(second)
    ctx.bus.publish("example.in", "after stop")
    ctx.bus.publish("example.in2", "after stop")

    assert received == [message, "second"]
    assert manager.state(echo) is PluginState.DISPOSED
    assert manager.state(second) is PluginState.DISPOSED


def test_unload_is_refused_while_an_instance_runs(site: Path, ctx: PluginContext) -> None:
    manager = PluginManager()
    echo = manager.start(GROUP, NAME, ctx)

    with pytest.raises(
        PluginError, match=r"cannot unload plugin grekko.strategies:example_echo.*active"
    ):
        manager.unload(GROUP, NAME)
    assert manager.instances(GROUP, NAME) == [echo]

    manager.deactivate(echo)
    with pytest.raises(PluginError, match="inactive"):
        manager.unload(GROUP, NAME)

    manager.dispose(echo)
    manager.unload(GROUP, NAME)
    assert manager.loaded() == []
    assert manager.instances(GROUP, NAME) == []
