"""deploy/: the kustomize base, checked for what a restricted production cluster demands and
for agreement with the code (images, names, environment), and validated with kubectl."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from operations.checks import TIMEOUT_MARGIN_SECONDS

from .environment import missing_on_this_machine
from .fakekube import FakeKubeServer

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
SECRET_TEMPLATE = yaml.safe_load((DEPLOY / "secret.yaml").read_text())


def objects() -> list[dict]:
    found = []
    for name in KUSTOMIZATION["resources"]:
        found += [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]
    return found


def of_kind(kind: str) -> list[dict]:
    return [obj for obj in objects() if obj["kind"] == kind]


def named(kind: str, name: str) -> dict:
    (obj,) = [obj for obj in of_kind(kind) if obj["metadata"]["name"] == name]
    return obj


def pod_specs() -> list[tuple[str, dict]]:
    return [
        (f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"])
        for obj in objects()
        if obj["kind"] in ("Deployment", "Job")
    ]


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def settings_environment() -> set[str]:
    """Every environment variable the code reads: the settings and gunicorn's configuration."""
    settings_source = (ROOT / "orgsettings" / "settings.py").read_text()
    gunicorn_source = (ROOT / "gunicorn.conf.py").read_text()
    return (
        set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings_source))
        | set(re.findall(r'_key\("([A-Z_]+)"\)', settings_source))
        | set(re.findall(r"os\.environ\.get\(['\"]([A-Z_]+)['\"]", gunicorn_source))
    )


CONFIG = named("ConfigMap", "orgsettings")["data"]


def test_the_base_has_every_process_the_procfile_lists():
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    args = {
        obj["metadata"]["name"]: " ".join(obj["spec"]["template"]["spec"]["containers"][0]["args"])
        for obj in of_kind("Deployment")
    }
    assert args["orgsettings-web"] == procfile["web"]
    assert args["orgsettings-worker"] == procfile["worker"].replace("'*'", "*")
    assert args["orgsettings-reconciler"].startswith(procfile["reconciler"])
    (job,) = of_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["migrate", "--noinput"]


@pytest.mark.parametrize("where", [name for name, _ in pod_specs()])
def test_every_container_has_limits_and_a_restricted_security_context(where):
    spec = dict(pod_specs())[where]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    for container in containers(spec):
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}, container["name"]
        assert set(resources["limits"]) == {"cpu", "memory"}, container["name"]
        assert container["securityContext"] == {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }, container["name"]
        # The only writable place, where the heartbeat and gunicorn's metrics go.
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]


@pytest.mark.parametrize("deployment", [obj["metadata"]["name"] for obj in of_kind("Deployment")])
def test_every_deployment_has_liveness_and_readiness_probes(deployment):
    for container in containers(named("Deployment", deployment)["spec"]["template"]["spec"]):
        assert "livenessProbe" in container, container["name"]
        assert "readinessProbe" in container, container["name"]


def test_the_web_probes_are_healthz_and_readyz():
    (web,) = named("Deployment", "orgsettings-web")["spec"]["template"]["spec"]["containers"]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["ports"] == [{"name": "http", "containerPort": int(CONFIG["PORT"])}]
    service = named("Service", "orgsettings-web")
    assert service["spec"]["selector"] == web_labels()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def web_labels() -> dict:
    return named("Deployment", "orgsettings-web")["spec"]["selector"]["matchLabels"]


def test_the_worker_and_reconciler_probes_read_their_own_heartbeat():
    for process in ("worker", "reconciler"):
        (container,) = named("Deployment", f"orgsettings-{process}")["spec"]["template"]["spec"][
            "containers"
        ]
        live = container["livenessProbe"]["exec"]["command"]
        ready = container["readinessProbe"]["exec"]["command"]
        assert live == ["python", "-m", "operations.probe", process]
        assert ready == [*live, "--ready"]
    assert CONFIG["HEARTBEAT_DIR"].startswith("/tmp/")


def test_every_container_runs_the_one_image_kustomize_names():
    (image,) = KUSTOMIZATION["images"]
    for _, spec in pod_specs():
        assert {c["image"] for c in containers(spec)} == {image["name"]}


def test_every_pod_reads_the_configmap_and_the_secret_by_their_names():
    secret_name = SECRET_TEMPLATE["metadata"]["name"]
    for _, spec in pod_specs():
        for container in containers(spec):
            assert container["envFrom"] == [
                {"configMapRef": {"name": "orgsettings"}},
                {"secretRef": {"name": secret_name}},
            ]


def test_the_environment_holds_only_variables_the_code_reads():
    known = settings_environment()
    assert set(CONFIG) <= known, set(CONFIG) - known
    assert set(SECRET_TEMPLATE["stringData"]) <= known, set(SECRET_TEMPLATE["stringData"]) - known
    # What production mode needs, split by whether it is secret.
    assert {"SECRET_KEY", "CRYPTOGRAPHY_KEY", "DATABASE_URL", "METRICS_TOKEN"} <= set(
        SECRET_TEMPLATE["stringData"]
    )
    assert not {"SECRET_KEY", "CRYPTOGRAPHY_KEY", "METRICS_TOKEN"} & set(CONFIG)
    assert CONFIG["DEBUG"] == "false"
    assert CONFIG["ALLOWED_HOSTS"]


def test_the_server_timeout_outlasts_a_connection_test():
    timeout, probe = int(CONFIG["GUNICORN_TIMEOUT"]), float(CONFIG["REGISTRY_PROBE_TIMEOUT"])
    assert timeout > probe + TIMEOUT_MARGIN_SECONDS


def test_the_pods_run_as_the_service_account_the_rbac_binds():
    (binding,) = of_kind("ClusterRoleBinding")
    (subject,) = binding["subjects"]
    for name in ("orgsettings-worker", "orgsettings-reconciler"):
        spec = named("Deployment", name)["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == subject["name"]
    named("ServiceAccount", subject["name"])
    assert {
        obj["metadata"]["namespace"] for obj in objects() if "namespace" in obj["metadata"]
    } == {subject["namespace"]}


def test_the_rbac_names_the_secret_the_code_writes():
    (role,) = of_kind("ClusterRole")
    named_secrets = {
        name
        for rule in role["rules"]
        if "secrets" in rule["resources"]
        for name in rule.get("resourceNames", [])
    }
    assert named_secrets == {CONFIG["REGISTRY_SECRET_NAME"]}


def test_no_secret_of_the_deployment_carries_the_label_the_reconciler_deletes_by():
    # The reconciler removes labelled Secrets no organization accounts for, cluster-wide.
    for secret in [*of_kind("Secret"), SECRET_TEMPLATE]:
        assert "app.kubernetes.io/managed-by" not in secret["metadata"].get("labels", {})


# kubectl


@pytest.fixture
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        missing_on_this_machine("kubectl is not installed (apt-get install kubernetes-client)")
    return path


def test_kubectl_kustomize_builds_the_base(kubectl):
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in built) == sorted(
        f"{o['kind']}/{o['metadata']['name']}" for o in objects()
    )
    (image,) = KUSTOMIZATION["images"]
    images = {
        c["image"]
        for o in built
        if o["kind"] in ("Deployment", "Job")
        for c in containers(o["spec"]["template"]["spec"])
    }
    assert images == {f"{image['newName']}:{image['newTag']}"}


def test_kubectl_apply_dry_run_accepts_the_base_and_the_secret_template(kubectl, tmp_path):
    # kubectl sends no token over plain HTTP: this fake serves without authentication.
    server = FakeKubeServer(token=None).start()
    try:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        for source in (["-k", str(DEPLOY)], ["-f", str(DEPLOY / "secret.yaml")]):
            result = subprocess.run(
                [
                    kubectl,
                    "--kubeconfig",
                    str(kubeconfig),
                    "--cache-dir",
                    str(tmp_path / "cache"),
                    "apply",
                    "--dry-run=client",
                    "--validate=false",
                    *source,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            lines = result.stdout.splitlines()
            assert lines, result.stdout
            assert all(line.endswith("created (dry run)") for line in lines), result.stdout
        assert server.writes() == []
        assert server.objects("secrets") == []
    finally:
        server.stop()
