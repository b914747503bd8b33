"""deploy/k8s: every object valid against Kubernetes' own schemas (kubernetes-validate, bundled,
no network), and the objects agreeing with each other and with how the services really run."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import (
    BACKLOG_METRIC,
    INSTANCE_ENV,
    K8S,
    K8S_VERSION,
    KINDS,
    MAX_REPLICAS,
    NAMESPACE,
    PARTITIONS_ENV,
    POD_INDEX,
    PORTS,
    SCALED_ON_BACKLOG,
    SECRET_PLACEHOLDER,
    STATEFUL,
    container,
    for_service,
    headless_name,
    manifest_files,
    of_kind,
    pod_labels,
    resources,
    selects,
    serve_args,
    workload,
    workloads,
)

from grekko.adapters.vault.local import key_from_env
from grekko.bootstrap.auth import load_jwt_secret
from grekko.core.errors import ConfigError
from grekko.settings import load_settings

ALL = resources()
CLUSTER_SCOPED = {"Namespace"}


@pytest.mark.parametrize(
    "doc",
    [doc for _, doc in ALL],
    ids=[f"{path.name}:{doc['kind']}/{doc['metadata']['name']}" for path, doc in ALL],
)
def test_every_object_is_valid_for_kubernetes(doc: dict[str, Any]) -> None:
    # strict: an unknown or misspelt field is an error, not silently dropped by the API server
    assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == "1.29"


@pytest.mark.parametrize("service", ["ingest", "gateway"])  # a Deployment, a StatefulSet
@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("a misspelt field", lambda c: c["ports"][0].update(containerPortt=8000)),
        ("a port as text", lambda c: c["ports"][0].update(containerPort="http")),
        ("a misspelt probe path", lambda c: c["livenessProbe"]["httpGet"].update(paht="/")),
        ("capabilities as text", lambda c: c["securityContext"].update(capabilities="ALL")),
        ("a misspelt env source", lambda c: c["env"][0]["valueFrom"].update(fieldReff={})),
    ],
)
def test_the_validator_rejects_a_broken_workload(service: str, where: str, change: Any) -> None:
    broken = copy.deepcopy(workload(service))
    change(container(broken))
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_everything_lives_in_the_production_namespace() -> None:
    assert list(of_kind("Namespace")) == [NAMESPACE]
    for path, doc in ALL:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, (path.name, doc["kind"])
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == NAMESPACE


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert sorted(listed) == sorted(p.name for p in manifest_files())
    assert len(listed) == len(set(listed))
    images = {image["name"] for image in kustomization["images"]}
    assert set(workloads()) == {f"grekko-{s}" for s in PORTS}
    for found in workloads().values():
        image = container(found)["image"]
        assert image.split(":")[0] in images  # the kustomization can point it at a registry


def _quantity(text: str | int) -> float:
    """CPU (cores, 500m) and memory (512Mi, 1Gi) quantities as numbers, enough to compare them."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|)", str(text))
    assert found, text
    return float(found[1]) * units[found[2]]


@pytest.mark.parametrize("service", PORTS)
def test_each_service_runs_with_probes_resources_and_no_privileges(service: str) -> None:
    runs = workload(service)
    pod = runs["spec"]["template"]["spec"]
    main = container(runs)
    assert "replicas" not in runs["spec"]  # the HPA owns them
    assert selects(runs["spec"]["selector"]["matchLabels"], pod_labels(service))
    assert main["args"] == serve_args(service)
    named = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert named == {"http": PORTS[service]}
    for probe, path in (("startupProbe", "/health"), ("livenessProbe", "/health")):
        assert main[probe]["httpGet"] == {"path": path, "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}

    for kind in ("requests", "limits"):
        assert set(main["resources"][kind]) == {"cpu", "memory"}
    for what in ("cpu", "memory"):
        asked = _quantity(main["resources"]["requests"][what])
        assert 0 < asked <= _quantity(main["resources"]["limits"][what])

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    assert set(mounts) == {"/tmp", "/var/lib/grekko"}  # noqa: S108 - the container's /tmp
    assert all("emptyDir" in volumes[name] for name in mounts.values())
    # SIGTERM drains: the grace period covers the preStop pause and then the drain itself
    pause = int(main["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] >= pause + 25


@pytest.mark.parametrize("service", PORTS)
def test_config_and_secrets_reach_each_service(service: str) -> None:
    main = container(workload(service))
    configmaps = {ref["configMapRef"]["name"] for ref in main["envFrom"]}
    assert configmaps <= set(of_kind("ConfigMap"))
    secrets = of_kind("Secret")
    sources = {e["name"]: e.get("valueFrom", {"value": e.get("value")}) for e in main["env"]}
    assert len(sources) == len(main["env"])  # each variable set once
    refs = {name: s["secretKeyRef"] for name, s in sources.items() if "secretKeyRef" in s}
    for ref in refs.values():
        assert ref["key"] in secrets[ref["name"]]["stringData"]
    assert {"PGPASSWORD", "GREKKO_MASTER_KEY"} <= set(refs)
    # the gateway issues access tokens; the agents service checks them on its own API
    assert ("GREKKO_JWT_SECRET" in refs) is (service in {"gateway", "agents"})
    # besides the secrets, only the instance number, which is the pod's own ordinal, and for
    # the agents the address they announce, made of the pod's own name
    others = {name: s for name, s in sources.items() if name not in refs}
    expected: dict[str, Any] = {
        INSTANCE_ENV: {"fieldRef": {"apiVersion": "v1", "fieldPath": POD_INDEX}}
    }
    if service == "agents":
        expected |= {
            "POD_NAME": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            "GREKKO_SERVE__ADVERTISE_URL": {"value": "http://$(POD_NAME).grekko-agents-pods:8002"},
        }
    assert others == (expected if service in STATEFUL else {})
    inline = [e["name"] for e in main["env"] if "value" in e]
    assert set(inline) <= {"GREKKO_SERVE__ADVERTISE_URL"}  # secrets never inline


@pytest.mark.parametrize("service", PORTS)
def test_each_service_object_selects_its_workload(service: str) -> None:
    svc = for_service("Service", service)
    matching = [
        name
        for name, w in workloads().items()
        if selects(svc["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
    ]
    assert matching == [f"grekko-{service}"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert "clusterIP" not in svc["spec"]  # a virtual IP in front of the ready pods
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": PORTS[service], "targetPort": "http", "protocol": "TCP"}
    ]


def test_every_service_object_belongs_to_a_workload() -> None:
    # one Service per workload, plus the headless one each StatefulSet governs its pods' names by
    assert set(of_kind("Service")) == set(workloads()) | {headless_name(s) for s in STATEFUL}
    assert set(workloads()) == {f"grekko-{s}" for s in PORTS}


@pytest.mark.parametrize("service", PORTS)
def test_each_service_scales_up_to_its_maximum(service: str) -> None:
    hpa = for_service("HorizontalPodAutoscaler", service)
    spec = hpa["spec"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": KINDS[service],
        "name": f"grekko-{service}",
    }
    assert spec["maxReplicas"] == MAX_REPLICAS[service]
    assert 2 <= spec["minReplicas"] <= spec["maxReplicas"]
    by_type = {m["type"]: m for m in spec["metrics"]}
    cpu = by_type["Resource"]["resource"]
    assert cpu["name"] == "cpu"
    assert cpu["target"]["type"] == "Utilization"
    assert 50 <= cpu["target"]["averageUtilization"] <= 90
    if service in SCALED_ON_BACKLOG:
        backlog = by_type["Pods"]["pods"]
        assert backlog["metric"]["name"] == BACKLOG_METRIC
        assert backlog["target"]["type"] == "AverageValue"
        assert _quantity(backlog["target"]["averageValue"]) > 0
    else:
        assert "Pods" not in by_type


@pytest.mark.parametrize("service", PORTS)
def test_each_service_survives_voluntary_disruptions(service: str) -> None:
    pdb = for_service("PodDisruptionBudget", service)
    selected = [
        name
        for name, w in workloads().items()
        if selects(
            pdb["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]
        )
    ]
    assert selected == [f"grekko-{service}"]
    # one pod at a time: with the HPA's minimum of two, one always serves and drains never block
    assert pdb["spec"]["maxUnavailable"] == 1
    assert for_service("HorizontalPodAutoscaler", service)["spec"]["minReplicas"] >= 2


def test_the_secret_holds_placeholders_that_fail_fast(tmp_path: Path) -> None:
    (secret,) = of_kind("Secret").values()
    assert "data" not in secret  # base64 `data` could hide a real value from review
    values = secret["stringData"]
    assert set(values) == {"master-key", "jwt-secret", "postgres-password"}
    for value in values.values():
        assert value.startswith(SECRET_PLACEHOLDER)
    # a placeholder left in place stops the service at start, never runs with a guessable key
    with pytest.raises(ConfigError):
        key_from_env(values["master-key"])
    with pytest.raises(ConfigError):
        load_jwt_secret(tmp_path, {"GREKKO_JWT_SECRET": values["jwt-secret"]})


def test_the_configmap_is_accepted_by_grekko_settings(tmp_path: Path) -> None:
    (config,) = of_kind("ConfigMap").values()
    env = config["data"]
    assert all(isinstance(v, str) for v in env.values())
    assert not {k for k in env if re.search("KEY|SECRET|PASSWORD|TOKEN", k)}
    settings = load_settings(tmp_path, env=env)  # unknown keys and bad values are errors
    assert settings.chain.enabled is False
    assert settings.database_url == "postgresql+psycopg://grekko@postgres:5432/grekko"
    assert settings.redis.url.get_secret_value() == "redis://redis:6379/0"
    assert settings.api.rate_limit_storage == "redis://redis:6379/1"
    assert env["GREKKO_DATA_DIR"] == "/var/lib/grekko"  # the emptyDir every pod mounts
    # one partition count for every service; the instance is each pod's own, never shared
    assert settings.serve.partitions == int(env[PARTITIONS_ENV]) == 4
    assert INSTANCE_ENV not in env
