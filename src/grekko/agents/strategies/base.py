"""Strategy base class: plain hooks, a narrow context, and the plugin lifecycle."""

from __future__ import annotations

from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from grekko.domain.data import Bar, TradeTick
from grekko.domain.events import OrderFilled
from grekko.ports.trading import TradingContext


@mypyc_attr(allow_interpreted_subclasses=True)
class Strategy:
    """Subclass and override on_start/on_bar/on_trade/on_fill. Parameters arrive as strings from
    the CLI or settings; `param_types` converts them, and unknown parameters are errors."""

    name: ClassVar[str] = "strategy"
    param_types: ClassVar[dict[str, type]] = {}

    def __init__(self, strategy_id: str | None = None, **params: Any) -> None:
        self.strategy_id = strategy_id or self.name
        unknown = set(params) - set(self.param_types)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {sorted(unknown)}; known: {sorted(self.param_types)}"
            )
        self.params: dict[str, Any] = {}
        for key, value in params.items():
            kind = self.param_types[key]
            try:
                self.params[key] = value if isinstance(value, kind) else kind(value)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ValueError(
                    f"{self.name}: parameter {key}={value!r} is not a {kind.__name__}"
                ) from exc
        self._ctx: TradingContext | None = None
        self._trader: Any = None

    @property
    def ctx(self) -> TradingContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy {self.strategy_id} is not bound to a trader yet")
        return self._ctx

    def bind(self, ctx: TradingContext) -> None:
        self._ctx = ctx

    # ---- plugin lifecycle: a strategy is a plugin of the grekko.strategies group ------------
    def initialize(self, ctx: Any) -> None:
        """ctx is a PluginContext whose extras carry the kernel's trader."""
        trader = ctx.extras.get("trader")
        if trader is None:
            raise ValueError(f"{self.name}: the plugin context has no trader in extras")
        self._trader = trader

    def activate(self) -> None:
        self._trader.add(self)

    def deactivate(self) -> None:
        self._trader.remove(self.strategy_id)

    def dispose(self) -> None:
        self._trader = None
        self._ctx = None

    # ---- hooks ---------------------------------------------------------------------------------
    def on_start(self) -> None:
        """Subscribe to data here."""

    def on_stop(self) -> None:
        """Release anything acquired in on_start."""

    def on_bar(self, bar: Bar) -> None:
        """A completed bar."""

    def on_trade(self, tick: TradeTick) -> None:
        """A public trade."""

    def on_fill(self, fill: OrderFilled) -> None:
        """One of this strategy's orders filled (fully or partly); positions already include it."""

    @property
    def wants_order_events(self) -> bool:
        """False when neither hook is overridden: the trader then spares the dispatch per event."""
        cls = type(self)
        return (
            cls.on_order_event is not Strategy.on_order_event or cls.on_fill is not Strategy.on_fill
        )

    def on_order_event(self, event: Any) -> None:
        if type(event) is OrderFilled:
            self.on_fill(event)
