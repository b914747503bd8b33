"""`grekko devnet up | down | status | reset`: the local chain paper trading settles on.

`up` starts anvil (or finds it running) and makes sure the protocol contracts are deployed; every
command prints JSON, so scripts and tests read the same output people do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

devnet_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The local devnet (anvil): up, down, status, reset.",
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where database, devnet state and settings live (default: $GREKKO_DATA_DIR or ~/.grekko).",
    ),
]


def _data_dir(data_dir: Path | None) -> Path:
    from grekko.settings import load_settings

    return load_settings(data_dir).data_dir


def devnet_up(
    data_dir: Path,
    *,
    deploy: bool = True,
    fork_url: str | None = None,
    fork_block: int | None = None,
) -> dict[str, Any]:
    """Start the devnet and deploy what is missing; the result names every contract address."""
    from web3 import Web3
    from web3.exceptions import Web3Exception

    from grekko.adapters.devnet.deploy import deploy_all
    from grekko.adapters.devnet.devnet import Devnet
    from grekko.adapters.devnet.paths import ChainError

    devnet = Devnet(data_dir, fork_url=fork_url, fork_block=fork_block)
    info = devnet.up()
    out: dict[str, Any] = {"rpc_url": info.rpc_url, "pid": info.pid, "chain_id": info.chain_id}
    if fork_url:
        out["forked"] = True
    if deploy:
        w3 = Web3(Web3.HTTPProvider(info.rpc_url, request_kwargs={"timeout": 30}))
        try:
            out["deployment"] = deploy_all(w3, data_dir).to_dict()
        except Web3Exception as exc:
            raise ChainError(
                f"the devnet runs at {info.rpc_url} but deploying failed: {exc} "
                "(`grekko devnet down` stops it)"
            ) from exc
    return out


def devnet_status(data_dir: Path) -> dict[str, Any]:
    from grekko.adapters.devnet.devnet import Devnet

    devnet = Devnet(data_dir)
    out = devnet.status().to_dict()
    out["deployments_file"] = (
        str(devnet.deployments_path) if devnet.deployments_path.exists() else None
    )
    return out


def devnet_down(data_dir: Path) -> dict[str, Any]:
    from grekko.adapters.devnet.devnet import Devnet

    return {"stopped": Devnet(data_dir).down()}


def devnet_reset(data_dir: Path) -> dict[str, Any]:
    from grekko.adapters.devnet.devnet import Devnet

    Devnet(data_dir).reset()
    return {"reset": True}


def _echo(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=1))


@devnet_app.command("up")
def up(
    data_dir: DataDir = None,
    deploy: Annotated[
        bool,
        typer.Option(
            "--deploy/--no-deploy", help="Deploy WETH9, tokens, Uniswap V2/V3 and Aave V3."
        ),
    ] = True,
    fork_url: Annotated[
        str | None,
        typer.Option(help="Fork this network (an RPC URL) instead of starting an empty chain."),
    ] = None,
    fork_block: Annotated[
        int | None, typer.Option(min=0, help="With --fork-url: the block to fork at.")
    ] = None,
) -> None:
    """Start anvil on 127.0.0.1 (a free port) with its state in the data dir, and deploy."""
    _echo(
        devnet_up(
            _data_dir(data_dir),
            deploy=deploy and fork_url is None,
            fork_url=fork_url,
            fork_block=fork_block,
        )
    )


@devnet_app.command("status")
def status(data_dir: DataDir = None) -> None:
    """Whether the devnet runs: pid, port, chain id, block number."""
    _echo(devnet_status(_data_dir(data_dir)))


@devnet_app.command("down")
def down(data_dir: DataDir = None) -> None:
    """Stop anvil; it writes its chain state to the data dir on the way out."""
    _echo(devnet_down(_data_dir(data_dir)))


@devnet_app.command("reset")
def reset(data_dir: DataDir = None) -> None:
    """Stop anvil and delete its chain state and recorded deployments."""
    _echo(devnet_reset(_data_dir(data_dir)))
