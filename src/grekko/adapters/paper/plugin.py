"""The `paper` venue as a plugin (entry point grekko.venues:paper), loaded like any third-party venue.

The plugin context must carry the kernel in `extras["kernel"]`; settings are read from
`ctx.settings.paper` when present (slippage_bps, volume_participation, latency_ms).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from grekko.core.errors import PluginError

from .venue import PaperVenue, PaperVenueConfig


def config_from_settings(settings: Any) -> PaperVenueConfig:
    paper = getattr(settings, "paper", None)
    if paper is None:
        return PaperVenueConfig()
    participation = getattr(paper, "volume_participation", None)
    return PaperVenueConfig(
        slippage_bps=Decimal(getattr(paper, "slippage_bps", 0)),
        volume_participation=Decimal(participation) if participation is not None else None,
        latency_ns=int(getattr(paper, "latency_ms", 0)) * 1_000_000,
    )


class PaperVenuePlugin:
    name = "paper"

    def __init__(self) -> None:
        self._kernel: Any = None
        self.venue: PaperVenue | None = None

    def initialize(self, ctx: Any) -> None:
        kernel = ctx.extras.get("kernel")
        if kernel is None:
            raise PluginError(
                "the paper venue plugin needs the kernel in PluginContext.extras['kernel']"
            )
        self._kernel = kernel
        self.venue = PaperVenue(
            config_from_settings(ctx.settings),
            kernel.cache.instrument,
            ctx.clock,
            kernel.portfolio.position_qty,
        )

    def activate(self) -> None:
        self._kernel.add_venue(self.venue)

    def deactivate(self) -> None:
        if self.venue is not None:
            self._kernel.remove_venue(self.venue.name)

    def dispose(self) -> None:
        self.venue = None
        self._kernel = None
