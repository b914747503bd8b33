"""Factory lookups remembered: found pools forever, missing pools only for a while."""

from __future__ import annotations

from grekko.adapters.evm.sending import AddressMemo


class Factory:
    def __init__(self) -> None:
        self.calls = 0
        self.pool: str | None = None

    def look_up(self) -> str | None:
        self.calls += 1
        return self.pool


def test_a_found_pool_is_asked_for_once() -> None:
    memo: AddressMemo[str] = AddressMemo()
    factory = Factory()
    factory.pool = "0xpool"
    assert [memo.get("k", factory.look_up) for _ in range(3)] == ["0xpool"] * 3
    assert factory.calls == 1


def test_a_missing_pool_is_remembered_within_the_ttl() -> None:
    memo: AddressMemo[str] = AddressMemo(miss_ttl_s=3600)
    factory = Factory()
    assert memo.get("k", factory.look_up) is None
    factory.pool = "0xnew"
    assert memo.get("k", factory.look_up) is None  # still the remembered miss
    assert factory.calls == 1


def test_a_pool_created_after_a_miss_is_found_once_the_miss_expires() -> None:
    memo: AddressMemo[str] = AddressMemo(miss_ttl_s=0)
    factory = Factory()
    assert memo.get("k", factory.look_up) is None
    factory.pool = "0xnew"
    assert memo.get("k", factory.look_up) == "0xnew"
    assert memo.get("k", factory.look_up) == "0xnew"
    assert factory.calls == 2
