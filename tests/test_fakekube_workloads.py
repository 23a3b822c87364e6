"""The fake API server serves Pods and the apps/v1 workloads the way a real cluster does.

As in test_fakekube.py, every request goes over HTTP through the official client (CoreV1Api,
AppsV1Api), so what passes here is what the pull-health calls will see from a real cluster:
pods waiting on their pulls, the owner chain Pod -> ReplicaSet -> Deployment, the patches
`kubectl rollout restart` makes, and the admission rule that copies a ServiceAccount's
imagePullSecrets into new pods.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kubernetes import client, config

if TYPE_CHECKING:
    from tests.fakekube import FakeKubeServer

NAMESPACE = "team-a"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
DENIED = (
    'failed to pull and unpack image "ghcr.io/acme/api:1.4": failed to resolve reference'
    ' "ghcr.io/acme/api:1.4": failed to authorize: failed to fetch oauth token: unexpected'
    " status from GET request to https://ghcr.io/token?scope=repository%3Aacme%2Fapi%3Apull"
    "&service=ghcr.io: 401 Unauthorized"
)
BACK_OFF = 'Back-off pulling image "ghcr.io/acme/api:1.4"'


@pytest.fixture
def api_client(kubeconfig_path: Path) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(kubeconfig_path))
    yield api_client
    api_client.close()


@pytest.fixture
def core(api_client) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture
def namespace(fake_kube: FakeKubeServer) -> str:
    fake_kube.add_namespace(NAMESPACE)
    return NAMESPACE


def status_of(error: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
    return json.loads(error.value.body)


def deployment_body(name: str = "web", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels if labels is not None else {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }


# --- pods and their status -------------------------------------------------------------------


def test_a_pod_whose_pull_fails_waits_with_the_reason_and_the_runtime_message(
    fake_kube, core, namespace
):
    fake_kube.add_deployment(
        namespace, "api", "ghcr.io/acme/api:1.4", waiting=("ErrImagePull", DENIED)
    )

    (pod,) = core.list_namespaced_pod(namespace).items

    assert pod.status.phase == "Pending"
    (status,) = pod.status.container_statuses
    assert status.image == "ghcr.io/acme/api:1.4"
    assert status.ready is False
    assert status.state.waiting.reason == "ErrImagePull"
    assert status.state.waiting.message == DENIED


def test_a_healthy_pod_runs_and_has_no_waiting_state(fake_kube, core, namespace):
    fake_kube.add_deployment(namespace, "web")

    (pod,) = core.list_namespaced_pod(namespace).items

    assert pod.status.phase == "Running"
    (status,) = pod.status.container_statuses
    assert status.state.waiting is None
    assert status.state.running.started_at is not None


def test_an_init_container_that_cannot_pull_holds_the_containers_in_pod_initializing(
    fake_kube, core, namespace
):
    fake_kube.add_deployment(
        namespace,
        "api",
        init_image="ghcr.io/acme/migrate:2",
        init_waiting=("ImagePullBackOff", 'Back-off pulling image "ghcr.io/acme/migrate:2"'),
    )

    (pod,) = core.list_namespaced_pod(namespace).items

    (init,) = pod.status.init_container_statuses
    assert init.image == "ghcr.io/acme/migrate:2"
    assert init.state.waiting.reason == "ImagePullBackOff"
    assert pod.status.container_statuses[0].state.waiting.reason == "PodInitializing"
    assert pod.status.container_statuses[0].state.waiting.message is None


def test_set_waiting_changes_the_reported_state_and_the_resource_version(
    fake_kube, core, namespace
):
    fake_kube.add_deployment(namespace, "api", waiting=("ErrImagePull", DENIED))
    (pod,) = core.list_namespaced_pod(namespace).items

    fake_kube.set_waiting(namespace, pod.metadata.name, ("ImagePullBackOff", BACK_OFF))

    again = core.read_namespaced_pod(pod.metadata.name, namespace)
    assert again.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    assert again.status.container_statuses[0].state.waiting.message == BACK_OFF
    assert again.metadata.resource_version != pod.metadata.resource_version


def test_pods_list_cluster_wide_by_phase_label_and_in_pages(fake_kube, core, namespace):
    fake_kube.add_namespace("team-b")
    fake_kube.add_deployment(namespace, "api", replicas=2, waiting=("ErrImagePull", DENIED))
    fake_kube.add_deployment("team-b", "worker", waiting=("ImagePullBackOff", BACK_OFF))
    fake_kube.add_deployment("team-b", "web", replicas=2)

    pending = core.list_pod_for_all_namespaces(field_selector="status.phase=Pending")
    labelled = core.list_pod_for_all_namespaces(label_selector="app in (api,worker)")
    first = core.list_pod_for_all_namespaces(field_selector="status.phase=Pending", limit=2)
    rest = core.list_pod_for_all_namespaces(
        field_selector="status.phase=Pending", limit=2, _continue=first.metadata._continue
    )

    names = sorted(p.metadata.name for p in pending.items)
    assert len(names) == 3
    assert all(p.status.phase == "Pending" for p in pending.items)
    assert sorted(p.metadata.name for p in labelled.items) == names
    assert len(first.items) == 2
    assert first.metadata._continue
    assert sorted(p.metadata.name for p in first.items + rest.items) == names
    assert rest.metadata._continue is None


def test_an_unsupported_pod_field_selector_is_400(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.list_namespaced_pod(namespace, field_selector="status.containerStatuses=x")

    assert error.value.status == 400


NOT_FINISHED = "status.phase!=Succeeded,status.phase!=Failed"


def test_a_restarted_container_that_cannot_pull_waits_while_its_pod_stays_running(
    fake_kube, core, namespace
):
    fake_kube.add_deployment(
        namespace, "api", waiting=("ImagePullBackOff", BACK_OFF), restarted=True
    )

    (pod,) = core.list_namespaced_pod(namespace).items

    assert pod.status.phase == "Running"
    (status,) = pod.status.container_statuses
    assert status.ready is False
    assert status.restart_count == 1
    assert status.state.waiting.reason == "ImagePullBackOff"
    assert status.last_state.terminated is not None


def test_set_waiting_on_a_running_pod_keeps_it_running(fake_kube, core, namespace):
    fake_kube.add_deployment(namespace, "api")
    (pod,) = core.list_namespaced_pod(namespace).items

    fake_kube.set_waiting(namespace, pod.metadata.name, ("ErrImagePull", DENIED), restarted=True)

    again = core.read_namespaced_pod(pod.metadata.name, namespace)
    assert again.status.phase == "Running"
    assert again.status.container_statuses[0].state.waiting.message == DENIED


def test_a_finished_pod_has_only_terminated_containers(fake_kube, core, namespace):
    fake_kube.add_pod(namespace, "migrate", finished="Succeeded")
    fake_kube.add_pod(namespace, "report", finished="Failed")

    pods = {p.metadata.name: p for p in core.list_namespaced_pod(namespace).items}

    assert pods["migrate"].status.phase == "Succeeded"
    assert pods["report"].status.phase == "Failed"
    assert pods["migrate"].status.container_statuses[0].state.terminated.exit_code == 0
    assert pods["report"].status.container_statuses[0].state.terminated.exit_code == 1


def test_not_equal_phase_selectors_joined_by_commas_all_apply(fake_kube, core, namespace):
    fake_kube.add_namespace("team-b")
    fake_kube.add_deployment(namespace, "api", waiting=("ErrImagePull", DENIED))
    fake_kube.add_deployment(
        namespace, "web", waiting=("ImagePullBackOff", BACK_OFF), restarted=True
    )
    fake_kube.add_deployment("team-b", "worker")
    fake_kube.add_pod(namespace, "migrate", finished="Succeeded")
    fake_kube.add_pod("team-b", "report", finished="Failed")

    unfinished = core.list_pod_for_all_namespaces(field_selector=NOT_FINISHED)
    not_succeeded = core.list_namespaced_pod(namespace, field_selector="status.phase!=Succeeded")
    running_here = core.list_namespaced_pod(
        namespace, field_selector="status.phase==Running,metadata.namespace=team-a"
    )

    assert sorted(p.status.phase for p in unfinished.items) == ["Pending", "Running", "Running"]
    assert {p.metadata.name for p in not_succeeded.items} == {
        p.metadata.name for p in unfinished.items if p.metadata.namespace == namespace
    }
    assert [p.metadata.labels["app"] for p in running_here.items] == ["web"]


def test_a_not_equal_phase_selector_pages_like_any_other(fake_kube, core, namespace):
    fake_kube.add_deployment(namespace, "web", replicas=3)
    fake_kube.add_pod(namespace, "migrate", finished="Succeeded")

    first = core.list_namespaced_pod(namespace, field_selector=NOT_FINISHED, limit=2)
    rest = core.list_namespaced_pod(
        namespace, field_selector=NOT_FINISHED, limit=2, _continue=first.metadata._continue
    )

    assert len(first.items) == 2
    assert len(rest.items) == 1
    assert rest.metadata._continue is None
    assert "migrate" not in {p.metadata.name for p in first.items + rest.items}


@pytest.mark.parametrize(
    "selector",
    ["status.phase!=Failed,status.containerStatuses!=x", "status.phase"],
)
def test_a_phase_selector_with_a_bad_term_is_400(core, namespace, selector):
    with pytest.raises(client.ApiException) as error:
        core.list_pod_for_all_namespaces(field_selector=selector)

    assert error.value.status == 400
    assert status_of(error)["reason"] == "BadRequest"


def test_an_unsupported_pod_field_label_is_named_in_the_answer(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.list_namespaced_pod(namespace, field_selector="status.phase!=Failed,spec.image=x")

    assert status_of(error)["message"] == "field label not supported: spec.image"


# --- owners ----------------------------------------------------------------------------------


def test_deployment_pods_are_owned_by_its_replica_set_which_the_deployment_owns(
    fake_kube, core, apps, namespace
):
    fake_kube.add_deployment(namespace, "api", replicas=2)

    pods = core.list_namespaced_pod(namespace).items
    (replica_set,) = apps.list_namespaced_replica_set(namespace).items
    deployment = apps.read_namespaced_deployment("api", namespace)

    assert len(pods) == 2
    for pod in pods:
        (owner,) = pod.metadata.owner_references
        assert (owner.kind, owner.api_version) == ("ReplicaSet", "apps/v1")
        assert owner.name == replica_set.metadata.name
        assert owner.uid == replica_set.metadata.uid
        assert owner.controller is True
        assert pod.metadata.name.startswith(replica_set.metadata.name + "-")
    (rs_owner,) = replica_set.metadata.owner_references
    assert (rs_owner.kind, rs_owner.name) == ("Deployment", "api")
    assert rs_owner.uid == deployment.metadata.uid
    read = apps.read_namespaced_replica_set(replica_set.metadata.name, namespace)
    assert read.metadata.uid == replica_set.metadata.uid


def test_stateful_set_and_daemon_set_own_their_pods_directly(fake_kube, core, apps, namespace):
    fake_kube.add_statefulset(namespace, "db", "postgres:17", replicas=2)
    fake_kube.add_daemonset(namespace, "agent", "quay.io/acme/agent:3", nodes=1)

    owners = {
        pod.metadata.name: (
            pod.metadata.owner_references[0].kind,
            pod.metadata.owner_references[0].name,
        )
        for pod in core.list_namespaced_pod(namespace).items
    }

    assert owners["db-0"] == ("StatefulSet", "db")
    assert owners["db-1"] == ("StatefulSet", "db")
    (agent,) = [name for name in owners if name.startswith("agent-")]
    assert owners[agent] == ("DaemonSet", "agent")
    assert apps.read_namespaced_stateful_set("db", namespace).spec.replicas == 2
    assert apps.read_namespaced_daemon_set("agent", namespace).kind == "DaemonSet"


def test_a_bare_pod_has_no_owner_and_a_job_pod_names_its_controller(fake_kube, core, namespace):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nightly", "uid": "u-1"}}
    fake_kube.add_pod(namespace, "debug", "busybox")
    fake_kube.add_pod(namespace, "nightly-x7k2p", "ghcr.io/acme/job:1", owner=job)

    bare = core.read_namespaced_pod("debug", namespace)
    owned = core.read_namespaced_pod("nightly-x7k2p", namespace)

    assert bare.metadata.owner_references is None
    (owner,) = owned.metadata.owner_references
    assert (owner.kind, owner.name, owner.controller) == ("Job", "nightly", True)


def test_workloads_list_in_all_namespaces(fake_kube, apps, namespace):
    fake_kube.add_namespace("team-b")
    fake_kube.add_deployment(namespace, "api")
    fake_kube.add_deployment("team-b", "web")

    names = [
        (d.metadata.namespace, d.metadata.name)
        for d in apps.list_deployment_for_all_namespaces().items
    ]

    assert names == [("team-a", "api"), ("team-b", "web")]


def test_deleting_a_deployment_collects_its_replica_sets_and_pods(fake_kube, core, apps, namespace):
    fake_kube.add_deployment(namespace, "api", replicas=2)
    fake_kube.add_deployment(namespace, "web")

    apps.delete_namespaced_deployment("api", namespace)

    assert [p.metadata.labels["app"] for p in core.list_namespaced_pod(namespace).items] == ["web"]
    assert [
        rs.spec.template.metadata.labels["app"]
        for rs in apps.list_namespaced_replica_set(namespace).items
    ] == ["web"]


def test_deleting_the_namespace_removes_its_workloads(fake_kube, core, apps, namespace):
    fake_kube.add_deployment(namespace, "api")

    core.delete_namespace(namespace)

    assert fake_kube.objects("pods") == []
    assert fake_kube.objects("deployments") == []
    assert fake_kube.objects("replicasets") == []


def test_a_missing_workload_is_404_not_found(apps, namespace):
    with pytest.raises(client.ApiException) as error:
        apps.read_namespaced_stateful_set("db", namespace)

    assert error.value.status == 404
    assert status_of(error)["message"] == 'statefulsets.apps "db" not found'
    assert status_of(error)["details"] == {"name": "db", "group": "apps", "kind": "statefulsets"}


# --- restarts: patches on the pod template ---------------------------------------------------


def test_rollout_restart_patch_sets_the_template_annotation_and_keeps_the_rest(
    fake_kube, apps, namespace
):
    fake_kube.add_deployment(namespace, "api", "ghcr.io/acme/api:1.4", replicas=3)
    before = apps.read_namespaced_deployment("api", namespace)

    patched = apps.patch_namespaced_deployment(
        "api",
        namespace,
        {
            "spec": {
                "template": {"metadata": {"annotations": {RESTARTED_AT: "2026-12-01T21:40:00Z"}}}
            }
        },
        _content_type="application/strategic-merge-patch+json",
    )

    assert patched.spec.template.metadata.annotations == {RESTARTED_AT: "2026-12-01T21:40:00Z"}
    assert patched.spec.template.metadata.labels == {"app": "api"}
    assert patched.spec.template.spec.containers[0].image == "ghcr.io/acme/api:1.4"
    assert patched.spec.replicas == 3
    assert patched.metadata.generation == before.metadata.generation + 1
    assert patched.metadata.resource_version != before.metadata.resource_version


@pytest.mark.parametrize(
    ("kind", "patch"),
    [
        ("statefulsets", "patch_namespaced_stateful_set"),
        ("daemonsets", "patch_namespaced_daemon_set"),
    ],
)
def test_stateful_and_daemon_sets_take_the_restart_annotation_by_merge_patch(
    fake_kube, apps, namespace, kind, patch
):
    getattr(fake_kube, "add_" + kind.removesuffix("s"))(namespace, "svc")

    getattr(apps, patch)(
        "svc",
        namespace,
        {
            "spec": {
                "template": {"metadata": {"annotations": {RESTARTED_AT: "2026-12-01T21:40:00Z"}}}
            }
        },
        _content_type="application/merge-patch+json",
    )

    stored = fake_kube.get_object(kind, namespace, "svc")
    assert stored["spec"]["template"]["metadata"]["annotations"] == {
        RESTARTED_AT: "2026-12-01T21:40:00Z"
    }
    assert stored["metadata"]["generation"] == 2


def test_strategic_merge_patch_merges_containers_by_name(fake_kube, apps, namespace):
    fake_kube.add_deployment(namespace, "api", "ghcr.io/acme/api:1.4", init_image="busybox")
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "sidecar", "image": "envoyproxy/envoy:v1.31"}],
                    "initContainers": [{"name": "init", "image": "busybox:1.37"}],
                }
            }
        }
    }

    patched = apps.patch_namespaced_deployment(
        "api", namespace, patch, _content_type="application/strategic-merge-patch+json"
    )

    spec = patched.spec.template.spec
    assert [(c.name, c.image) for c in spec.containers] == [
        ("app", "ghcr.io/acme/api:1.4"),
        ("sidecar", "envoyproxy/envoy:v1.31"),
    ]
    assert [(c.name, c.image) for c in spec.init_containers] == [("init", "busybox:1.37")]


def test_merge_patch_replaces_the_containers_list(fake_kube, apps, namespace):
    fake_kube.add_deployment(namespace, "api", "ghcr.io/acme/api:1.4")

    patched = apps.patch_namespaced_deployment(
        "api",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "nginx"}]}}}},
        _content_type="application/merge-patch+json",
    )

    assert [c.name for c in patched.spec.template.spec.containers] == ["other"]


def test_a_paused_deployment_says_so_and_json_patch_test_guards_on_it(fake_kube, apps, namespace):
    fake_kube.add_deployment(namespace, "api", paused=True)

    deployment = apps.read_namespaced_deployment("api", namespace)
    with pytest.raises(client.ApiException) as error:
        apps.patch_namespaced_deployment(
            "api",
            namespace,
            [
                {"op": "test", "path": "/spec/paused", "value": False},
                {
                    "op": "add",
                    "path": "/spec/template/metadata/annotations",
                    "value": {RESTARTED_AT: "x"},
                },
            ],
            _content_type="application/json-patch+json",
        )

    assert deployment.spec.paused is True
    assert error.value.status == 422
    assert (
        "annotations"
        not in fake_kube.get_object("deployments", namespace, "api")["spec"]["template"]["metadata"]
    )


def test_a_patch_with_a_stale_resource_version_is_409_conflict(fake_kube, apps, namespace):
    fake_kube.add_deployment(namespace, "api")
    read = apps.read_namespaced_deployment("api", namespace)
    apps.patch_namespaced_deployment("api", namespace, {"metadata": {"labels": {"tier": "web"}}})

    with pytest.raises(client.ApiException) as error:
        apps.patch_namespaced_deployment(
            "api",
            namespace,
            {
                "metadata": {"resourceVersion": read.metadata.resource_version},
                "spec": {"paused": True},
            },
        )

    assert error.value.status == 409
    assert status_of(error)["reason"] == "Conflict"


def test_status_cannot_be_changed_through_the_object_itself(fake_kube, apps, core, namespace):
    fake_kube.add_deployment(namespace, "api", waiting=("ErrImagePull", DENIED))
    (pod,) = core.list_namespaced_pod(namespace).items

    apps.patch_namespaced_deployment("api", namespace, {"status": {"readyReplicas": 1}})
    core.patch_namespaced_pod(pod.metadata.name, namespace, {"status": {"phase": "Running"}})

    assert apps.read_namespaced_deployment("api", namespace).status.ready_replicas == 0
    assert core.read_namespaced_pod(pod.metadata.name, namespace).status.phase == "Pending"


def test_roll_out_replaces_the_pods_with_a_new_replica_set(fake_kube, core, apps, namespace):
    fake_kube.add_deployment(namespace, "api", waiting=("ErrImagePull", DENIED))
    (old_pod,) = core.list_namespaced_pod(namespace).items
    apps.patch_namespaced_deployment(
        "api", namespace, {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "t"}}}}}
    )

    fake_kube.roll_out("deployments", namespace, "api")

    (new_pod,) = core.list_namespaced_pod(namespace).items
    assert new_pod.metadata.name != old_pod.metadata.name
    assert new_pod.status.phase == "Running"
    replica_sets = {
        rs.metadata.name: rs.spec.replicas
        for rs in apps.list_namespaced_replica_set(namespace).items
    }
    assert len(replica_sets) == 2
    assert replica_sets[new_pod.metadata.owner_references[0].name] == 1
    assert sorted(replica_sets.values()) == [0, 1]


# --- pod writes and admission ----------------------------------------------------------------


def test_pods_get_their_service_account_pull_secrets_only_when_created(fake_kube, core, namespace):
    fake_kube.add_deployment(namespace, "before")
    fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
            "imagePullSecrets": [{"name": "org-registry-credentials"}],
        }
    )
    fake_kube.add_deployment(namespace, "after")
    fake_kube.add_deployment(namespace, "own", pull_secrets=["their-secret"])

    secrets = {
        pod.metadata.labels["app"]: [ref.name for ref in pod.spec.image_pull_secrets or []]
        for pod in core.list_namespaced_pod(namespace).items
    }

    assert secrets == {
        "before": [],
        "after": ["org-registry-credentials"],
        "own": ["their-secret"],
    }


def test_a_pod_created_through_the_api_is_admitted_with_the_account_pull_secrets(
    fake_kube, core, namespace
):
    fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
            "imagePullSecrets": [{"name": "org-registry-credentials"}],
        }
    )
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}

    created = core.create_namespaced_pod(namespace, body)

    assert created.spec.service_account_name == "default"
    assert [ref.name for ref in created.spec.image_pull_secrets] == ["org-registry-credentials"]
    assert created.status.phase == "Pending"


def test_a_pod_naming_a_missing_service_account_is_403(core, namespace):
    body = {
        "metadata": {"name": "p"},
        "spec": {"serviceAccountName": "ghost", "containers": [{"name": "c", "image": "nginx"}]},
    }

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_pod(namespace, body)

    assert error.value.status == 403
    assert 'serviceaccount "ghost" not found' in status_of(error)["message"]


def test_a_pod_without_an_image_is_422_invalid(core, namespace):
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_pod(namespace, body)

    assert error.value.status == 422
    assert status_of(error)["details"]["causes"][0]["field"] == "spec.containers[0].image"


def test_a_running_pod_may_change_its_image_and_labels_but_not_the_rest_of_its_spec(
    fake_kube, core, namespace
):
    fake_kube.add_pod(namespace, "debug", "busybox:1.36")

    core.patch_namespaced_pod(
        "debug",
        namespace,
        {
            "metadata": {"labels": {"x": "1"}},
            "spec": {"containers": [{"name": "app", "image": "busybox:1.37"}]},
        },
    )
    with pytest.raises(client.ApiException) as error:
        core.patch_namespaced_pod("debug", namespace, {"spec": {"restartPolicy": "Never"}})

    pod = core.read_namespaced_pod("debug", namespace)
    assert pod.metadata.labels == {"x": "1"}
    assert pod.spec.containers[0].image == "busybox:1.37"
    assert pod.spec.restart_policy == "Always"
    assert error.value.status == 422
    assert "pod updates may not change fields" in status_of(error)["message"]


def test_deleting_a_pod_answers_the_pod_marked_for_deletion(fake_kube, core, namespace):
    fake_kube.add_pod(namespace, "debug")

    gone = core.delete_namespaced_pod("debug", namespace)

    assert gone.kind == "Pod"
    assert gone.metadata.deletion_timestamp is not None
    assert fake_kube.get_object("pods", namespace, "debug") is None


def test_deleting_a_pod_with_another_uid_precondition_is_409_and_keeps_it(
    fake_kube, core, namespace
):
    fake_kube.add_pod(namespace, "db-0")

    with pytest.raises(client.ApiException) as error:
        core.delete_namespaced_pod(
            "db-0", namespace, body={"preconditions": {"uid": "an-earlier-pod"}}
        )

    assert error.value.status == 409
    assert fake_kube.get_object("pods", namespace, "db-0") is not None


# --- creating workloads through the API --------------------------------------------------------


def test_a_created_deployment_gets_generation_defaults_and_an_empty_status(apps, namespace):
    created = apps.create_namespaced_deployment(namespace, deployment_body())

    assert created.api_version == "apps/v1"
    assert created.kind == "Deployment"
    assert created.metadata.generation == 1
    assert created.spec.replicas == 1


def test_a_deployment_whose_selector_does_not_match_its_template_is_422(apps, namespace):
    with pytest.raises(client.ApiException) as error:
        apps.create_namespaced_deployment(namespace, deployment_body(labels={"app": "other"}))

    assert error.value.status == 422
    (cause,) = status_of(error)["details"]["causes"]
    assert cause["field"] == "spec.template.metadata.labels"
    assert "`selector` does not match template `labels`" in cause["message"]


def test_a_deployment_selector_is_immutable(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment_body())

    with pytest.raises(client.ApiException) as error:
        apps.patch_namespaced_deployment(
            "web",
            namespace,
            {
                "spec": {
                    "selector": {"matchLabels": {"app": "web", "tier": "x"}},
                    "template": {"metadata": {"labels": {"app": "web", "tier": "x"}}},
                }
            },
        )

    assert error.value.status == 422
    assert "field is immutable" in status_of(error)["message"]


def test_forbidden_names_the_apps_api_group(fake_kube, apps, namespace):
    fake_kube.fail_all(403)

    with pytest.raises(client.ApiException) as error:
        apps.patch_namespaced_deployment("api", namespace, {"spec": {"paused": False}})

    assert error.value.status == 403
    assert status_of(error)["message"] == (
        'deployments "api" is forbidden: User "system:serviceaccount:orgsettings:orgsettings"'
        ' cannot patch resource "deployments" in API group "apps" in the namespace "team-a"'
    )
