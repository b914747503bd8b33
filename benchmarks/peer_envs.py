"""One virtual environment per peer engine under <repo>/.bench/.

Each peer gets its own venv because their pins conflict (nautilus_trader wants pandas < 3,
backtrader is unmaintained) and none of them may leak into Grekko's own environment. A stamp file
records what was installed, so a second `make bench` reuses the venv instead of reinstalling.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

STAMP_NAME = ".grekko-bench-stamp.json"
INSTALL_STEPS = 3  # create venv, install packages, verify import


class PeerEnvError(RuntimeError):
    """A peer's venv could not be created or its packages could not be installed."""


@dataclass(frozen=True)
class PeerSpec:
    """How to install one peer engine and how to run its script from /work/shared/peers."""

    name: str
    package: str
    version: str
    import_name: str
    extras: tuple[str, ...]
    script: str
    script_args: tuple[str, ...] = field(default=())

    def requirements(self, version: str | None = None) -> list[str]:
        return [f"{self.package}=={version or self.version}", *self.extras]


PEERS: dict[str, PeerSpec] = {
    "backtesting": PeerSpec(
        name="backtesting",
        package="backtesting",
        version="0.6.6",
        import_name="backtesting",
        extras=("pandas", "numpy", "pyarrow", "bokeh"),
        script="bench_backtesting_py.py",
    ),
    "backtrader": PeerSpec(
        name="backtrader",
        package="backtrader",
        version="1.9.78.123",
        import_name="backtrader",
        extras=("pandas", "pyarrow"),
        script="bench_backtrader.py",
    ),
    "nautilus": PeerSpec(
        name="nautilus",
        package="nautilus_trader",
        version="1.221.0",
        import_name="nautilus_trader",
        extras=("pandas<3", "pyarrow"),
        script="bench_nautilus.py",
        script_args=("bars",),
    ),
}


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def nearest_version(wanted: str, available: list[str]) -> str | None:
    """The closest release to `wanted`: the newest one below it, else the oldest one above it."""
    wanted_key = _version_key(wanted)
    below = [v for v in available if _version_key(v) < wanted_key]
    above = [v for v in available if _version_key(v) > wanted_key]
    if below:
        return max(below, key=_version_key)
    if above:
        return min(above, key=_version_key)
    return None


def _available_versions(python: Path, package: str) -> list[str]:
    """Ask the configured index (pip's ordinary client) which releases of one package exist."""
    proc = subprocess.run(
        [str(python), "-m", "pip", "index", "versions", package],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("Available versions:"):
            return [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
    return []


def _read_stamp(venv_dir: Path) -> dict[str, object] | None:
    stamp = venv_dir / STAMP_NAME
    if not stamp.is_file():
        return None
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pip_install(python: Path, requirements: list[str], log_path: Path) -> bool:
    with log_path.open("a") as log:
        log.write(f"\n$ pip install {' '.join(requirements)}\n")
        log.flush()
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return proc.returncode == 0


def _log_tail(log_path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(log_path.read_text().splitlines()[-lines:])
    except OSError:
        return ""


def _install_pinned(spec: PeerSpec, python: Path, log_path: Path, console: Console) -> str:
    """Install the exact pin; if the index lacks it, fall back to the nearest release and say so."""
    if _pip_install(python, spec.requirements(), log_path):
        return spec.version
    available = _available_versions(python, spec.package)
    if spec.version in available or not available:
        raise PeerEnvError(
            f"pip could not install {spec.package}=={spec.version} (log {log_path}):\n"
            + _log_tail(log_path)
        )
    chosen = nearest_version(spec.version, available)
    if chosen is None:
        raise PeerEnvError(f"no release of {spec.package} found on the index")
    console.print(
        f"[yellow]{spec.package}=={spec.version} is not on the index; using nearest {chosen}[/]"
    )
    if not _pip_install(python, spec.requirements(chosen), log_path):
        raise PeerEnvError(
            f"pip could not install {spec.package}=={chosen} (log {log_path}):\n"
            + _log_tail(log_path)
        )
    return chosen


def _installed_version(python: Path, spec: PeerSpec) -> str:
    proc = subprocess.run(
        [str(python), "-c", f"import {spec.import_name} as m; print(m.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PeerEnvError(f"{spec.import_name} does not import: {proc.stderr.strip()[-400:]}")
    return proc.stdout.strip()


def _build_env(
    spec: PeerSpec,
    *,
    venv_dir: Path,
    base_python: Path,
    console: Console,
    progress: Progress,
    task: TaskID,
) -> Path:
    python = venv_python(venv_dir)
    log_path = venv_dir.parent / f"{spec.name}-install.log"
    progress.update(task, description=f"{spec.name}: creating venv")
    if not python.exists():
        subprocess.run([str(base_python), "-m", "venv", str(venv_dir)], check=True)
    progress.advance(task)
    progress.update(task, description=f"{spec.name}: pip install {spec.package}=={spec.version}")
    chosen = _install_pinned(spec, python, log_path, console)
    progress.advance(task)
    progress.update(task, description=f"{spec.name}: verifying import")
    installed = _installed_version(python, spec)
    stamp = {"requirements": spec.requirements(), "installed": installed, "chosen": chosen}
    (venv_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=2))
    progress.advance(task)
    progress.update(task, description=f"{spec.name}: ready ({spec.package} {installed})")
    return python


def ensure_peer_envs(
    specs: list[PeerSpec], bench_root: Path, base_python: Path, console: Console
) -> dict[str, Path | PeerEnvError]:
    """Create or reuse each peer's venv; return its python, or the error that stopped it."""
    bench_root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Path | PeerEnvError] = {}
    pending: list[PeerSpec] = []
    for spec in specs:
        venv_dir = bench_root / spec.name
        stamp = _read_stamp(venv_dir)
        if stamp and stamp.get("requirements") == spec.requirements():
            results[spec.name] = venv_python(venv_dir)
        else:
            pending.append(spec)
    if not pending:
        return results
    console.print(f"Installing {len(pending)} peer environment(s) under {bench_root} ...")
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for spec in pending:
            task = progress.add_task(spec.name, total=INSTALL_STEPS)
            try:
                results[spec.name] = _build_env(
                    spec,
                    venv_dir=bench_root / spec.name,
                    base_python=base_python,
                    console=console,
                    progress=progress,
                    task=task,
                )
            except (PeerEnvError, subprocess.CalledProcessError) as exc:
                progress.update(task, description=f"{spec.name}: [red]failed[/]")
                results[spec.name] = PeerEnvError(str(exc))
    return results
