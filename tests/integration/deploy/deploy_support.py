"""What the deployment files under deploy/ must agree on, and loaders for them.

The figures here are the issue's (ports of `grekko serve <service>`, the HPAs' maximum replicas),
written once so every deploy test checks the files against the same contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
NAMESPACE = "grekko-production"
K8S_VERSION = "1.29.0"  # a version kubernetes-validate bundles the schemas of (no network)

# service -> the port `grekko serve <service>` listens on
PORTS = {"gateway": 8000, "ingest": 8001, "agents": 8002, "risk": 8003, "execution": 8004}
MAX_REPLICAS = {"gateway": 10, "agents": 5, "execution": 20, "ingest": 15, "risk": 8}
BACKLOG_METRIC = "grekko_bus_pending_entries"  # the services must export it (Redis Streams backlog)
SCALED_ON_BACKLOG = ("ingest", "agents", "risk", "execution")
EXCHANGE_EGRESS = ("ingest", "execution")  # ccxt REST/WebSocket to the exchanges on 443
SECRET_PLACEHOLDER = "REPLACE_ME"  # noqa: S105 - what stands where a secret goes
CONTAINER_HOST = "0.0.0.0"  # noqa: S104 - a container listens on its own interfaces


def serve_args(service: str) -> list[str]:
    """How every deployment starts a service: `grekko serve <service> --host 0.0.0.0`."""
    return ["serve", service, "--host", CONTAINER_HOST]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def resources() -> list[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s with the file it came from."""
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in manifest_files():
        found.extend((path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    """Objects of one kind by name."""
    return {doc["metadata"]["name"]: doc for _, doc in resources() if doc["kind"] == kind}


def for_service(kind: str, service: str) -> dict[str, Any]:
    return of_kind(kind)[f"grekko-{service}"]


def pod_labels(service: str) -> dict[str, str]:
    labels: dict[str, str] = for_service("Deployment", service)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    found: dict[str, Any] = containers[0]
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded
