"""A real kernel with the agent desk on the bundled BTC/USDT slice, driven bar by bar.

Nothing is replaced: proposals go through the coordinator, orders through the risk engine,
the execution engine and the paper venue, exactly as in a backtest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.agents.desk import AgentDesk
from grekko.bootstrap import BacktestSpec, build_backtest
from grekko.domain.agents import ProposalType, TradingProposal
from grekko.domain.data import Bar
from grekko.domain.enums import OrderType
from grekko.engines.kernel import Kernel

IID = "BTC/USDT@paper"
CASH = Decimal(100_000)
NO_STRATEGIES: Mapping[str, Mapping[str, str]] = {"gordo": {"run": ""}, "gekko": {"run": ""}}


@dataclass
class DeskRun:
    kernel: Kernel
    desk: AgentDesk
    rows: list[tuple[int, int, float, float, float, float, float]]
    cursor: int = 0

    def bars(self, n: int) -> None:
        """Process the next n bars of the slice through the kernel."""
        clock: Any = self.kernel.clock
        for ts_open, ts_close, o, h, low, c, v in self.rows[self.cursor : self.cursor + n]:
            clock.set_time(ts_close)
            self.kernel.data.process_bar(Bar(IID, o, h, low, c, v, ts_open, ts_close))
        self.cursor += n

    def proposal(
        self,
        proposer: str,
        kind: ProposalType = ProposalType.BUY,
        quantity: str = "0.01",
        *,
        strategy: str | None = None,
        order_type: OrderType = OrderType.MARKET,
        price: Decimal | None = None,
    ) -> TradingProposal:
        return self.desk.new_proposal(
            proposer,
            kind,
            IID,
            Decimal(quantity),
            # gekko trades only its pre-approved strategies
            strategy=strategy or ("trend_following" if proposer == "gekko" else "manual"),
            rationale="test",
            order_type=order_type,
            price_target=price,
        )


def desk_run(
    agents: tuple[str, ...] = ("spot", "gordo", "gekko"),
    *,
    agent_params: Mapping[str, Mapping[str, str]] = NO_STRATEGIES,
    auto_confirm: bool = False,
    warm_bars: int = 60,
) -> DeskRun:
    path = bundled_files()[0]
    params = {k: v for k, v in agent_params.items() if k in agents}
    setup = build_backtest(
        BacktestSpec(
            files=(path,),
            strategy="sma_cross",
            agents=agents,
            auto_confirm=auto_confirm,
            agent_params=params,
            cash=CASH,
        )
    )
    arrays = load_bars(path)
    run = DeskRun(setup.kernel, setup.desk, list(iter_bar_rows(arrays, 0, 2000)))
    run.bars(warm_bars)
    return run
