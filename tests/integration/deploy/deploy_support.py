"""What the deployment files under deploy/ must agree on, and loaders for them.

The figures here are the issue's (ports of `grekko serve <service>`, the HPAs' maximum replicas),
written once so every deploy test checks the files against the same contract. Gateway, risk,
agents and execution need a distinct instance number per process (their Redis consumer groups and
partitions), so they run as StatefulSets whose pod ordinal is that number; ingest needs none.
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
# service -> the kind of workload that runs it
KINDS = {
    "gateway": "StatefulSet",
    "ingest": "Deployment",
    "agents": "StatefulSet",
    "risk": "StatefulSet",
    "execution": "StatefulSet",
}
STATEFUL = tuple(s for s, kind in KINDS.items() if kind == "StatefulSet")
PARTITIONED = ("agents", "execution")  # instance k works partition k % partitions
INSTANCE_ENV = "GREKKO_SERVE__INSTANCE"
PARTITIONS_ENV = "GREKKO_SERVE__PARTITIONS"
# the label Kubernetes (>= 1.28) puts on every StatefulSet pod: its ordinal
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
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


def workloads() -> dict[str, dict[str, Any]]:
    """Every Deployment and StatefulSet by name: what runs pods."""
    return {**of_kind("Deployment"), **of_kind("StatefulSet")}


def workload(service: str) -> dict[str, Any]:
    """The Deployment or StatefulSet that runs a service (of the kind KINDS says)."""
    return for_service(KINDS[service], service)


def headless_name(service: str) -> str:
    return f"grekko-{service}-pods"


def pod_labels(service: str) -> dict[str, str]:
    labels: dict[str, str] = workload(service)["spec"]["template"]["metadata"]["labels"]
    return labels


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    found: dict[str, Any] = containers[0]
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded
