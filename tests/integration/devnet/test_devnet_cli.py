"""`grekko devnet up | status | down | reset` in subprocesses, against a real anvil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from web3 import Web3

from grekko.adapters.devnet.devnet import pid_alive


def _grekko() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


def _env(**extra: str) -> dict[str, str]:
    """No GREKKO_* settings from the developer's shell leak into the run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")} | extra


def devnet(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_grekko(), "devnet", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=60,
        check=False,
    )


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_lifecycle(anvil_path: Path, tmp_path: Path) -> None:
    assert _json(devnet(tmp_path, "status"))["running"] is False
    try:  # down runs even when up fails half-way (the node started, the deployment did not)
        up = _json(devnet(tmp_path, "up"))
        assert up["chain_id"] == 31337
        assert up["rpc_url"].startswith("http://127.0.0.1:")
        contracts = up["deployment"]["contracts"]
        assert set(up["deployment"]["deployed"]) == set(contracts)
        w3 = Web3(Web3.HTTPProvider(up["rpc_url"]))
        assert all(len(w3.eth.get_code(a)) > 0 for a in contracts.values())

        again = _json(devnet(tmp_path, "up"))  # the running node is found, nothing redeployed
        assert again["pid"] == up["pid"]
        assert again["deployment"]["deployed"] == []
        assert again["deployment"]["contracts"] == contracts

        status = _json(devnet(tmp_path, "status"))
        assert status["running"] is True
        assert (status["pid"], status["rpc_url"]) == (up["pid"], up["rpc_url"])
        assert status["block_number"] == w3.eth.block_number > 0
        assert status["deployments_file"] == str(tmp_path / "devnet" / "deployments.json")
    finally:
        down = _json(devnet(tmp_path, "down"))
    assert down == {"stopped": True}
    assert not pid_alive(up["pid"])
    stopped = _json(devnet(tmp_path, "status"))
    assert stopped["running"] is False
    assert stopped["state_file"] == str(tmp_path / "devnet" / "state.json")

    assert _json(devnet(tmp_path, "reset")) == {"reset": True}
    assert not (tmp_path / "devnet" / "state.json").exists()
    assert not (tmp_path / "devnet" / "deployments.json").exists()


def test_cli_names_make_install_when_anvil_is_missing(tmp_path: Path) -> None:
    done = devnet(tmp_path / "data", "up", GREKKO_CHAIN_DIR=str(tmp_path / "empty"))
    assert done.returncode == 2
    assert "make install" in done.stderr
    assert "anvil" in done.stderr
