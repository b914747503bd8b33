"""deploy/k8s: gateway, risk, agents and execution as StatefulSets whose pod ordinal is each
process's `serve.instance`, and ingest as a Deployment.

Each pod's settings are rebuilt the way Kubernetes makes them (the ConfigMap, then the ordinal
where the pod-index label is referenced) and loaded through the real `load_settings`; the real
`slot` then says which consumer group or partition that pod takes. Secrets are left out: the
placeholders are refused on purpose (test_k8s_manifests checks them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from deploy_support import (
    INSTANCE_ENV,
    KINDS,
    PARTITIONED,
    PARTITIONS_ENV,
    POD_INDEX,
    PORTS,
    STATEFUL,
    container,
    for_service,
    headless_name,
    of_kind,
    pod_labels,
    selects,
    workload,
    workloads,
)

from grekko.bootstrap.service_agents import advertised_url
from grekko.bootstrap.services import slot
from grekko.settings import Settings, load_settings

(CONFIG,) = of_kind("ConfigMap").values()
PARTITIONS = int(CONFIG["data"][PARTITIONS_ENV])


def pod_env(service: str, ordinal: int) -> dict[str, str]:
    """The environment of one pod: envFrom the ConfigMap, then `env`, with the pod-index label
    and the pod's name as the StatefulSet controller sets them, and $(VAR) in a value replaced
    by a variable defined before it, as the kubelet does (secrets are left out)."""
    main = container(workload(service))
    env: dict[str, str] = {}
    for ref in main["envFrom"]:
        env.update(of_kind("ConfigMap")[ref["configMapRef"]["name"]]["data"])
    for entry in main["env"]:
        if "value" in entry:
            env[entry["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), entry["value"]
            )
            continue
        field = entry["valueFrom"].get("fieldRef", {}).get("fieldPath")
        if field == POD_INDEX:
            env[entry["name"]] = str(ordinal)
        elif field == "metadata.name":
            env[entry["name"]] = f"{workload(service)['metadata']['name']}-{ordinal}"
    return env


def pod_settings(service: str, ordinal: int, tmp_path: Path) -> Settings:
    return load_settings(tmp_path / f"{service}-{ordinal}", env=pod_env(service, ordinal))


def hpa(service: str) -> dict[str, Any]:
    spec: dict[str, Any] = for_service("HorizontalPodAutoscaler", service)["spec"]
    return spec


def test_ingest_is_the_only_deployment() -> None:
    # two ingest replicas publish the same bars; consumers drop the duplicates by event id
    assert set(of_kind("Deployment")) == {"grekko-ingest"}
    assert set(of_kind("StatefulSet")) == {f"grekko-{s}" for s in STATEFUL}
    assert set(STATEFUL) == {"gateway", "risk", "agents", "execution"}
    assert INSTANCE_ENV not in pod_env("ingest", 0)


@pytest.mark.parametrize("service", STATEFUL)
def test_each_statefulset_starts_its_pods_together_under_a_headless_service(service: str) -> None:
    spec = workload(service)["spec"]
    assert spec["serviceName"] == headless_name(service)
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    assert "volumeClaimTemplates" not in spec  # the state is in PostgreSQL and Redis

    headless = of_kind("Service")[headless_name(service)]["spec"]
    assert headless["clusterIP"] == "None"
    assert "type" not in headless or headless["type"] == "ClusterIP"
    assert not headless.get("publishNotReadyAddresses")  # a pod is named once it is Ready
    governed = [
        name
        for name, w in workloads().items()
        if selects(headless["selector"], w["spec"]["template"]["metadata"]["labels"])
    ]
    assert governed == [f"grekko-{service}"]
    assert selects(headless["selector"], pod_labels(service))
    assert headless["ports"] == [
        {"name": "http", "port": PORTS[service], "targetPort": "http", "protocol": "TCP"}
    ]


@pytest.mark.parametrize("service", STATEFUL)
def test_each_pod_takes_its_ordinal_as_its_instance(service: str) -> None:
    env = container(workload(service))["env"]
    (instance,) = [e for e in env if e["name"] == INSTANCE_ENV]
    assert instance["valueFrom"] == {"fieldRef": {"apiVersion": "v1", "fieldPath": POD_INDEX}}
    assert INSTANCE_ENV not in CONFIG["data"]  # never one number for every pod
    assert PARTITIONS_ENV not in {e["name"] for e in env}  # never a pod's own partition count


def test_every_service_reads_one_partition_count() -> None:
    assert PARTITIONS == 4
    for service in PORTS:
        assert pod_env(service, 0)[PARTITIONS_ENV] == str(PARTITIONS), service


@pytest.mark.parametrize("service", ["gateway", "risk"])
def test_gateway_and_risk_replicas_each_read_in_a_group_of_their_own(
    service: str, tmp_path: Path
) -> None:
    slots = []
    for ordinal in range(hpa(service)["maxReplicas"]):
        settings = pod_settings(service, ordinal, tmp_path)
        assert settings.serve.instance == ordinal
        assert settings.serve.partitions == PARTITIONS  # risk routes approvals by it
        slots.append(slot(service, settings))
    assert slots == list(range(hpa(service)["maxReplicas"]))  # every replica sees every message


@pytest.mark.parametrize("service", PARTITIONED)
def test_partitioned_services_work_every_partition_at_the_minimum(
    service: str, tmp_path: Path
) -> None:
    least, most = hpa(service)["minReplicas"], hpa(service)["maxReplicas"]
    working = {slot(service, pod_settings(service, k, tmp_path)) for k in range(least)}
    assert working == set(range(PARTITIONS))  # else a partition's instruments are never worked
    # the pods past the partition count are standbys of the partition instance % partitions
    standbys = [slot(service, pod_settings(service, k, tmp_path)) for k in range(PARTITIONS, most)]
    assert standbys == [k % PARTITIONS for k in range(PARTITIONS, most)]


@pytest.mark.parametrize("ordinal", [0, 4])
def test_each_agents_pod_announces_its_own_name(ordinal: int, tmp_path: Path) -> None:
    # whichever pod holds partition 0 (pod 4 after pod 0 failed over) serves the agents' API
    # and announces this address; the gateway follows it
    url = urlsplit(advertised_url(pod_settings("agents", ordinal, tmp_path)))
    statefulset = workload("agents")
    name = f"{statefulset['metadata']['name']}-{ordinal}"
    assert url.hostname == f"{name}.{statefulset['spec']['serviceName']}"
    assert url.port == PORTS["agents"]
    assert slot("agents", pod_settings("agents", ordinal, tmp_path)) == 0


def test_the_gateway_reaches_the_agents_that_run_the_desk(tmp_path: Path) -> None:
    # until a holder announced itself: agents pod 0, named by its headless Service
    url = urlsplit(pod_settings("gateway", 0, tmp_path).serve.agents_url)
    statefulset = workload("agents")
    assert (
        url.hostname == f"{statefulset['metadata']['name']}-0.{statefulset['spec']['serviceName']}"
    )
    assert url.port == PORTS["agents"]
    assert slot("agents", pod_settings("agents", 0, tmp_path)) == 0


def test_every_autoscaler_targets_a_workload_of_the_right_kind() -> None:
    targeted = set()
    for name, found in of_kind("HorizontalPodAutoscaler").items():
        ref = found["spec"]["scaleTargetRef"]
        target = of_kind(ref["kind"]).get(ref["name"])
        assert target is not None, name
        assert ref["apiVersion"] == target["apiVersion"] == "apps/v1"
        service = target["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        assert ref["kind"] == KINDS[service]
        targeted.add(ref["name"])
    assert targeted == set(workloads())
