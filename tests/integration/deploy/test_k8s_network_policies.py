"""deploy/k8s/networkpolicies.yaml: denied unless allowed, and what is allowed is what the
services need (the gateway from anywhere, the rest from the gateway and Prometheus; DNS, PostgreSQL
and Redis for all; the exchanges on 443 for ingest and execution).

NetworkPolicies add up, so each check asks what the union of the policies selecting a pod allows.
"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_support import EXCHANGE_EGRESS, PORTS, of_kind, pod_labels, selects

POLICIES = of_kind("NetworkPolicy")
DNS = ("UDP", 53)
POSTGRES = ("TCP", 5432)
REDIS = ("TCP", 6379)
HTTPS = ("TCP", 443)


def _selects_pod(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector:
        return True  # {} selects every pod of the namespace
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] != "In" or labels.get(expr["key"]) not in expr["values"]:
            return False
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def policies_for(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [p for p in POLICIES.values() if _selects_pod(p["spec"]["podSelector"], labels)]


def egress_rules(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [rule for p in policies_for(labels) for rule in p["spec"].get("egress", [])]


def ports_of(rule: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}


def egress_ports(labels: dict[str, str]) -> set[tuple[str, int]]:
    return {port for rule in egress_rules(labels) for port in ports_of(rule)}


def test_everything_is_denied_by_default() -> None:
    deny = [
        p
        for p in POLICIES.values()
        if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
    ]
    assert len(deny) == 1
    assert sorted(deny[0]["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert "egress" not in deny[0]["spec"]


@pytest.mark.parametrize("service", PORTS)
def test_each_service_has_its_own_ingress_policy(service: str) -> None:
    own = [
        p
        for p in policies_for(pod_labels(service))
        if "Ingress" in p["spec"]["policyTypes"] and p["spec"].get("ingress")
    ]
    assert [p["metadata"]["name"] for p in own] == [f"grekko-{service}"]
    (rule,) = own[0]["spec"]["ingress"]
    assert ports_of(rule) == {("TCP", PORTS[service])}


def test_the_gateway_is_reached_from_anywhere_on_its_port_only() -> None:
    (rule,) = POLICIES["grekko-gateway"]["spec"]["ingress"]
    assert "from" not in rule  # users, the ingress controller, Prometheus
    assert ports_of(rule) == {("TCP", PORTS["gateway"])}


@pytest.mark.parametrize("service", [s for s in PORTS if s != "gateway"])
def test_internal_services_are_reached_from_the_gateway_and_prometheus_only(service: str) -> None:
    (rule,) = POLICIES[f"grekko-{service}"]["spec"]["ingress"]
    peers = rule["from"]
    gateway = [p for p in peers if "podSelector" in p and "namespaceSelector" not in p]
    monitoring = [p for p in peers if "namespaceSelector" in p and "podSelector" not in p]
    assert len(gateway) + len(monitoring) == len(peers)
    assert [selects(p["podSelector"]["matchLabels"], pod_labels("gateway")) for p in gateway] == [
        True
    ]
    assert [p["namespaceSelector"]["matchLabels"] for p in monitoring] == [
        {"kubernetes.io/metadata.name": "monitoring"}
    ]
    # and the gateway's own egress lets that traffic out
    out = [
        rule
        for rule in egress_rules(pod_labels("gateway"))
        if ("TCP", PORTS[service]) in ports_of(rule)
    ]
    assert any(
        _selects_pod(peer["podSelector"], pod_labels(service))
        for rule in out
        for peer in rule["to"]
        if "podSelector" in peer
    )


@pytest.mark.parametrize("service", PORTS)
def test_each_service_reaches_dns_postgres_and_redis(service: str) -> None:
    assert {DNS, ("TCP", 53), POSTGRES, REDIS} <= egress_ports(pod_labels(service))
    to_postgres = [r for r in egress_rules(pod_labels(service)) if POSTGRES in ports_of(r)]
    assert to_postgres
    assert all("ipBlock" not in peer for r in to_postgres for peer in r["to"])  # not the world


def test_the_datastores_accept_grekko_pods() -> None:
    for name, port in (("postgresql", POSTGRES), ("redis", REDIS)):
        allowed = [
            rule
            for p in policies_for({"app.kubernetes.io/name": name})
            for rule in p["spec"].get("ingress", [])
            if port in ports_of(rule)
        ]
        peers = [peer for rule in allowed for peer in rule.get("from", [])]
        assert peers
        assert all(selects(p["podSelector"]["matchLabels"], pod_labels("risk")) for p in peers)


@pytest.mark.parametrize("service", PORTS)
def test_only_services_that_talk_to_the_internet_reach_port_443(service: str) -> None:
    public = [r for r in egress_rules(pod_labels(service)) if HTTPS in ports_of(r)]
    needs = service in EXCHANGE_EGRESS or service == "gateway"  # exchanges; WalletConnect relay
    assert bool(public) is needs
    for rule in public:
        for peer in rule["to"]:
            # the internet, but not the cluster's or the cloud metadata's private ranges
            assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
            assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
                peer["ipBlock"]["except"]
            )
