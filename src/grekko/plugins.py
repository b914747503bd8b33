"""Entry-point plugins: venues, strategies, agents, wallets and asset managers.

Grekko's own components are registered through the same entry points as third-party packages,
so a plugin installed with pip is indistinguishable from a built-in one. The manager discovers
entry points, loads (imports) them lazily, and moves each started instance through one lifecycle:

    LOADED -initialize-> INITIALIZED -activate-> ACTIVE -deactivate-> INACTIVE -dispose-> DISPOSED
                                                  ^------activate-------'
An exception in any hook marks the instance FAILED (from which only dispose is allowed) and is
raised as a PluginError naming the plugin and the hook, with the original error chained.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from grekko.core.errors import PluginError

if TYPE_CHECKING:
    from grekko.core.time import Clock
    from grekko.engines.bus import MessageBus

GROUPS = ("grekko.venues", "grekko.strategies", "grekko.agents", "grekko.wallets", "grekko.assets")


@dataclass(frozen=True)
class PluginContext:
    """What a plugin is given to work with; `extras` carries collaborators added later."""

    bus: MessageBus
    clock: Clock
    settings: Any
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@runtime_checkable
class Plugin(Protocol):
    name: str

    def initialize(self, ctx: PluginContext) -> None: ...
    def activate(self) -> None: ...
    def deactivate(self) -> None: ...
    def dispose(self) -> None: ...


@dataclass(frozen=True)
class PluginInfo:
    group: str
    name: str
    value: str  # "module:attr"
    distribution: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.group}:{self.name}"


class PluginState(Enum):
    LOADED = "loaded"
    INITIALIZED = "initialized"
    ACTIVE = "active"
    INACTIVE = "inactive"
    DISPOSED = "disposed"
    FAILED = "failed"


# hook -> (states it may be called from, state it leads to)
_MOVES: dict[str, tuple[frozenset[PluginState], PluginState]] = {
    "initialize": (frozenset({PluginState.LOADED}), PluginState.INITIALIZED),
    "activate": (frozenset({PluginState.INITIALIZED, PluginState.INACTIVE}), PluginState.ACTIVE),
    "deactivate": (frozenset({PluginState.ACTIVE}), PluginState.INACTIVE),
    "dispose": (
        frozenset({PluginState.INITIALIZED, PluginState.INACTIVE, PluginState.FAILED}),
        PluginState.DISPOSED,
    ),
}
LIVE_STATES = frozenset(
    {PluginState.LOADED, PluginState.INITIALIZED, PluginState.ACTIVE, PluginState.INACTIVE}
)


@dataclass
class _Instance:
    info: PluginInfo
    instance: Any
    state: PluginState


@dataclass
class _Loaded:
    info: PluginInfo
    entry_point: EntryPoint
    obj: Any


class PluginManager:
    """Discovers, loads and runs plugins; one per process, owned by the composition root."""

    def __init__(self, groups: tuple[str, ...] = GROUPS) -> None:
        self._groups = groups
        self._loaded: dict[tuple[str, str], _Loaded] = {}
        self._instances: dict[int, _Instance] = {}

    # ---- discovery and loading -----------------------------------------------------------
    def discover(self, group: str | None = None) -> list[PluginInfo]:
        """Every installed plugin of one group (or of all groups), sorted by group and name."""
        groups = self._groups if group is None else (self._check_group(group),)
        found = [info for g in groups for info, _ in _with_info(g)]
        return sorted(found, key=lambda i: (i.group, i.name, i.distribution))

    def load(self, group: str, name: str) -> Any:
        """Import a plugin's object (a class or factory); cached until unload."""
        cached = self._loaded.get((group, name))
        if cached is not None:
            return cached.obj
        info, ep = self._find(group, name)
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {info.key} from {info.distribution} {info.version} failed to load "
                f"{info.value}: {exc!r}"
            ) from exc
        self._loaded[(group, name)] = _Loaded(info, ep, obj)
        return obj

    def loaded(self) -> list[PluginInfo]:
        return [entry.info for entry in self._loaded.values()]

    def unload(self, group: str, name: str) -> None:
        """Forget a loaded plugin; refused while any of its instances is not disposed."""
        self._refuse_if_live(group, name, "unload")
        self._loaded.pop((group, name), None)
        self._instances = {
            k: v for k, v in self._instances.items() if (v.info.group, v.info.name) != (group, name)
        }

    def reload(self, group: str, name: str) -> Any:
        """Re-import the plugin's module and return the new object.

        Running instances keep the code they were built from; instances started afterwards use
        the new object.
        """
        self.load(group, name)
        entry = self._loaded[(group, name)]
        ep = entry.entry_point
        try:
            module = sys.modules.get(ep.module) or importlib.import_module(ep.module)
            obj: Any = importlib.reload(module)
            for part in filter(None, (ep.attr or "").split(".")):
                obj = getattr(obj, part)
        except Exception as exc:
            raise PluginError(f"plugin {entry.info.key} failed in reload: {exc!r}") from exc
        entry.obj = obj
        return obj

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self, group: str, name: str, ctx: PluginContext, *args: Any, **kwargs: Any) -> Any:
        """Instantiate a plugin, initialize it with ctx and activate it."""
        factory = self.load(group, name)
        info = self._loaded[(group, name)].info
        try:
            instance = factory(*args, **kwargs)
        except Exception as exc:
            raise PluginError(f"plugin {info.key} failed in construct: {exc!r}") from exc
        missing = [hook for hook in (*_MOVES, "name") if not hasattr(instance, hook)]
        if missing:
            raise PluginError(
                f"plugin {info.key} does not implement Plugin: missing {', '.join(missing)}"
            )
        self._instances[id(instance)] = _Instance(info, instance, PluginState.LOADED)
        self.initialize(instance, ctx)
        self.activate(instance)
        return instance

    def stop(self, instance: Any) -> None:
        """Deactivate (when active) and dispose."""
        if self.state(instance) is PluginState.ACTIVE:
            self.deactivate(instance)
        self.dispose(instance)

    def initialize(self, instance: Any, ctx: PluginContext) -> None:
        self._move(instance, "initialize", ctx)

    def activate(self, instance: Any) -> None:
        self._move(instance, "activate")

    def deactivate(self, instance: Any) -> None:
        self._move(instance, "deactivate")

    def dispose(self, instance: Any) -> None:
        self._move(instance, "dispose")

    def state(self, instance: Any) -> PluginState:
        return self._record(instance).state

    def instances(
        self,
        group: str | None = None,
        name: str | None = None,
        states: Collection[PluginState] = LIVE_STATES,
    ) -> list[Any]:
        """Started instances in the given states (by default not yet disposed nor failed)."""
        return [
            r.instance
            for r in self._instances.values()
            if r.state in states
            and (group is None or r.info.group == group)
            and (name is None or r.info.name == name)
        ]

    # ---- internals -----------------------------------------------------------------------
    def _move(self, instance: Any, hook: str, *args: Any) -> None:
        record = self._record(instance)
        allowed, target = _MOVES[hook]
        if record.state not in allowed:
            raise PluginError(
                f"cannot {hook} plugin {record.info.key} in state {record.state.value}; "
                f"{hook} is allowed from: {', '.join(sorted(s.value for s in allowed))}"
            )
        try:
            getattr(instance, hook)(*args)
        except Exception as exc:
            record.state = PluginState.FAILED
            raise PluginError(f"plugin {record.info.key} failed in {hook}: {exc!r}") from exc
        record.state = target

    def _record(self, instance: Any) -> _Instance:
        record = self._instances.get(id(instance))
        if record is None or record.instance is not instance:
            raise PluginError(f"{instance!r} was not started by this plugin manager")
        return record

    def _refuse_if_live(self, group: str, name: str, action: str) -> None:
        live = [
            r
            for r in self._instances.values()
            if (r.info.group, r.info.name) == (group, name) and r.state in LIVE_STATES
        ]
        if live:
            states = ", ".join(r.state.value for r in live)
            raise PluginError(
                f"cannot {action} plugin {group}:{name}: {len(live)} instance(s) still running "
                f"({states}); stop them first"
            )

    def _check_group(self, group: str) -> str:
        if group not in self._groups:
            raise PluginError(f"unknown plugin group {group!r}; groups: {', '.join(self._groups)}")
        return group

    def _find(self, group: str, name: str) -> tuple[PluginInfo, EntryPoint]:
        candidates = [
            (info, ep) for info, ep in _with_info(self._check_group(group)) if info.name == name
        ]
        if not candidates:
            available = sorted({i.name for i, _ in _with_info(group)})
            listing = ", ".join(available) or "(none)"
            raise PluginError(f"no plugin {name!r} in group {group}; available: {listing}")
        if len(candidates) > 1:
            dists = " and ".join(f"{i.distribution} {i.version} ({i.value})" for i, _ in candidates)
            raise PluginError(f"plugin name {group}:{name} is declared twice: by {dists}")
        return candidates[0]


def _with_info(group: str) -> list[tuple[PluginInfo, EntryPoint]]:
    return [(_info(group, ep), ep) for ep in entry_points(group=group)]


def _info(group: str, ep: EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(
        group=group,
        name=ep.name,
        value=ep.value,
        distribution=dist.name if dist is not None else "(unknown)",
        version=dist.version if dist is not None else "",
    )
