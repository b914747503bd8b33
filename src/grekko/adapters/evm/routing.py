"""Best execution across DEX protocols: every protocol quotes, the best quote is executed by the
protocol that made it. A protocol that has no route (or no pool deep enough) is left out of the
comparison rather than failing it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from grekko.adapters.evm.swaps import Quote, SwapError, SwapFill, SwapRejected


class SwapProtocol(Protocol):
    def best_quote(self, amount_in: int, token_in: str, token_out: str) -> Quote: ...

    def best_quote_out(self, amount_out: int, token_in: str, token_out: str) -> Quote: ...

    def execute(
        self,
        quote: Quote,
        slippage_bps: int = 50,
        deadline_s: int = 300,
        *,
        min_amount_out: int | None = None,
    ) -> SwapFill | SwapRejected: ...


class DexRouter:
    """protocols: name (as in Quote.protocol, e.g. "uniswap_v2") -> adapter."""

    def __init__(self, protocols: Mapping[str, SwapProtocol]) -> None:
        if not protocols:
            raise SwapError("a DEX router needs at least one protocol")
        self.protocols = dict(protocols)

    def quotes(
        self, amount: int, token_in: str, token_out: str, *, exact_output: bool
    ) -> list[Quote]:
        found: list[Quote] = []
        for protocol in self.protocols.values():
            try:
                if exact_output:
                    found.append(protocol.best_quote_out(amount, token_in, token_out))
                else:
                    found.append(protocol.best_quote(amount, token_in, token_out))
            except SwapError:
                continue
        return found

    def best_quote(self, amount_in: int, token_in: str, token_out: str) -> Quote:
        """Most out for exactly `amount_in`."""
        found = self.quotes(amount_in, token_in, token_out, exact_output=False)
        if not found:
            raise SwapError(f"no route from {token_in} to {token_out} on {self._names()}")
        return max(found, key=lambda q: q.amount_out)

    def best_quote_out(self, amount_out: int, token_in: str, token_out: str) -> Quote:
        """Least in for exactly `amount_out`."""
        found = self.quotes(amount_out, token_in, token_out, exact_output=True)
        if not found:
            raise SwapError(
                f"no route from {token_in} to {token_out} on {self._names()} "
                f"deep enough for {amount_out} base units"
            )
        return min(found, key=lambda q: q.amount_in)

    def execute(
        self,
        quote: Quote,
        slippage_bps: int = 50,
        deadline_s: int = 300,
        *,
        min_amount_out: int | None = None,
    ) -> SwapFill | SwapRejected:
        protocol = self.protocols.get(quote.protocol)
        if protocol is None:
            raise SwapError(f"quote from {quote.protocol!r}, which this router does not trade")
        return protocol.execute(quote, slippage_bps, deadline_s, min_amount_out=min_amount_out)

    def _names(self) -> str:
        return ", ".join(sorted(self.protocols))
