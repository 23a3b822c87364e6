"""The fake API server answers the official client the way a real cluster does.

Every test talks HTTP through `kubernetes.client.CoreV1Api`, so what passes here is what the
product's `kube` module will see; a test of the fake that only read its dictionaries would prove
nothing about the wire.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import urllib3
from kubernetes import client, config

if TYPE_CHECKING:
    # The conftest registers tests.fakekube as a plugin (for assertion rewriting and fixtures).
    from tests.fakekube import FakeKubeServer

NAMESPACE = "team-a"


@pytest.fixture
def core(kubeconfig_path: Path) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(kubeconfig_path))
    yield client.CoreV1Api(api_client)
    api_client.close()


@pytest.fixture
def namespace(fake_kube: FakeKubeServer) -> str:
    fake_kube.add_namespace(NAMESPACE)
    return NAMESPACE


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def pull_secret(name: str = "registry-credentials", **metadata: Any) -> dict[str, Any]:
    auths = {"auths": {"ghcr.io": {"username": "bot", "password": "s3cret"}}}
    return {
        "metadata": {"name": name, **metadata},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(json.dumps(auths))},
    }


def status_of(error: pytest.ExceptionInfo[client.ApiException]) -> dict[str, Any]:
    return json.loads(error.value.body)


def service_account(
    fake_kube: FakeKubeServer, pull_secrets: list[str], name: str = "default"
) -> dict[str, Any]:
    return fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "imagePullSecrets": [{"name": secret} for secret in pull_secrets],
        }
    )


def pull_secret_names(fake_kube: FakeKubeServer, name: str = "default") -> list[str]:
    account = fake_kube.get_object("serviceaccounts", NAMESPACE, name)
    assert account is not None
    return [ref["name"] for ref in account.get("imagePullSecrets", [])]


# --- connection and server-set metadata ------------------------------------------------------


def test_kubeconfig_connects_the_official_client(fake_kube, core):
    fake_kube.add_namespace("team-a")

    names = [ns.metadata.name for ns in core.list_namespace().items]

    assert names == ["team-a"]


def test_request_without_the_token_is_401_unauthorized(fake_kube):
    api_client = client.ApiClient(client.Configuration(host=fake_kube.url))

    with pytest.raises(client.ApiException) as error:
        client.CoreV1Api(api_client).list_namespace()

    assert error.value.status == 401
    assert status_of(error)["reason"] == "Unauthorized"


def test_created_object_gets_uid_timestamp_version_and_namespace(core, namespace):
    core.create_namespaced_secret(namespace, pull_secret())

    secret = core.read_namespaced_secret("registry-credentials", namespace)

    assert secret.kind == "Secret"
    assert secret.api_version == "v1"
    assert secret.metadata.uid
    assert secret.metadata.creation_timestamp is not None
    assert secret.metadata.resource_version.isdigit()
    assert secret.metadata.namespace == namespace


def test_resource_versions_come_from_one_counter_across_kinds(core, namespace):
    first = core.create_namespaced_secret(namespace, pull_secret("a"))
    second = core.create_namespaced_service_account(namespace, {"metadata": {"name": "builder"}})
    third = core.create_namespaced_secret(namespace, pull_secret("b"))

    versions = [obj.metadata.resource_version for obj in (first, second, third)]

    assert [int(v) for v in versions] == sorted(int(v) for v in versions)
    assert len(set(versions)) == 3


def test_created_namespace_is_active_and_labelled_with_its_name(core):
    created = core.create_namespace({"metadata": {"name": "team-b"}})

    assert created.status.phase == "Active"
    assert created.metadata.labels == {"kubernetes.io/metadata.name": "team-b"}


# --- optimistic concurrency ------------------------------------------------------------------


def test_replace_with_current_resource_version_succeeds_and_bumps_it(core, namespace):
    secret = core.create_namespaced_secret(namespace, pull_secret())
    secret.metadata.labels = {"app.kubernetes.io/managed-by": "orgsettings"}

    replaced = core.replace_namespaced_secret(secret.metadata.name, namespace, secret)

    assert int(replaced.metadata.resource_version) > int(secret.metadata.resource_version)
    assert replaced.metadata.labels == {"app.kubernetes.io/managed-by": "orgsettings"}


def test_replace_with_stale_resource_version_is_409_conflict(core, namespace):
    stale = core.create_namespaced_secret(namespace, pull_secret())
    core.patch_namespaced_secret(
        stale.metadata.name, namespace, {"metadata": {"labels": {"a": "b"}}}
    )

    with pytest.raises(client.ApiException) as error:
        core.replace_namespaced_secret(stale.metadata.name, namespace, stale)

    assert error.value.status == 409
    status = status_of(error)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on secrets "registry-credentials": the object has been'
        " modified; please apply your changes to the latest version and try again"
    )


def test_replace_without_resource_version_is_unconditional(core, namespace):
    stale = core.create_namespaced_secret(namespace, pull_secret())
    core.patch_namespaced_secret(
        stale.metadata.name, namespace, {"metadata": {"labels": {"a": "b"}}}
    )
    stale.metadata.resource_version = None
    stale.metadata.labels = {"replaced": "blindly"}

    replaced = core.replace_namespaced_secret(stale.metadata.name, namespace, stale)

    assert replaced.metadata.labels == {"replaced": "blindly"}


def test_replace_that_changes_nothing_keeps_the_resource_version(core, namespace):
    secret = core.create_namespaced_secret(namespace, pull_secret())

    replaced = core.replace_namespaced_secret(secret.metadata.name, namespace, secret)

    assert replaced.metadata.resource_version == secret.metadata.resource_version


def test_create_of_existing_name_is_409_already_exists(core, namespace):
    core.create_namespaced_secret(namespace, pull_secret())

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, pull_secret())

    assert error.value.status == 409
    assert status_of(error)["reason"] == "AlreadyExists"
    assert status_of(error)["details"] == {"name": "registry-credentials", "kind": "secrets"}


def test_create_carrying_a_resource_version_is_400(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, pull_secret(resourceVersion="7"))

    assert error.value.status == 400
    assert status_of(error)["message"] == (
        "resourceVersion should not be set on objects to be created"
    )


# --- not found -------------------------------------------------------------------------------


def test_read_of_missing_object_is_404_with_a_status_body(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.read_namespaced_secret("nope", namespace)

    assert error.value.status == 404
    assert status_of(error) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "secrets"},
        "code": 404,
    }


def test_create_in_missing_namespace_is_404_naming_the_namespace(core):
    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret("ghost", pull_secret())

    assert error.value.status == 404
    assert status_of(error)["message"] == 'namespaces "ghost" not found'


def test_replace_of_missing_object_is_404(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.replace_namespaced_secret("nope", namespace, pull_secret("nope"))

    assert error.value.status == 404


# --- Secret validation -----------------------------------------------------------------------


def test_dockerconfigjson_secret_without_its_key_is_422_invalid(core, namespace):
    secret = pull_secret()
    secret["data"] = {"config.json": b64("{}")}

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, secret)

    assert error.value.status == 422
    status = status_of(error)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'Secret "registry-credentials" is invalid: data[.dockerconfigjson]: Required value'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "data[.dockerconfigjson]",
        }
    ]


@pytest.mark.parametrize("content", ["not json", '["auths"]', "NaN"])
def test_dockerconfigjson_secret_whose_value_is_not_a_json_object_is_422(core, namespace, content):
    secret = pull_secret()
    secret["data"] = {".dockerconfigjson": b64(content)}

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, secret)

    assert error.value.status == 422
    assert status_of(error)["details"]["causes"][0]["field"] == "data[.dockerconfigjson]"
    assert content not in status_of(error)["message"]


def test_secret_data_that_is_not_base64_is_400_bad_request(core, namespace):
    secret = pull_secret()
    secret["data"] = {".dockerconfigjson": "{not base64}"}

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, secret)

    assert error.value.status == 400
    assert "illegal base64 data at input byte 0" in status_of(error)["message"]


def test_string_data_is_encoded_into_data_and_not_stored(core, fake_kube, namespace):
    secret = pull_secret()
    secret["stringData"] = {"note": "plain text"}

    created = core.create_namespaced_secret(namespace, secret)

    assert created.data["note"] == b64("plain text")
    assert created.string_data is None
    stored = fake_kube.get_object("secrets", namespace, "registry-credentials")
    assert "stringData" not in stored


def test_secret_larger_than_one_mebibyte_is_422(core, namespace):
    secret = {"metadata": {"name": "big"}, "data": {"blob": b64(b"x" * (1024 * 1024 + 1))}}

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, secret)

    assert error.value.status == 422
    assert status_of(error)["message"] == (
        'Secret "big" is invalid: data: Too long: must have at most 1048576 bytes'
    )


def test_secret_name_that_is_not_a_dns_subdomain_is_422(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, pull_secret("Registry_Credentials"))

    assert error.value.status == 422
    assert status_of(error)["details"]["causes"][0]["field"] == "metadata.name"


def test_label_value_longer_than_63_characters_is_422(core, namespace):
    secret = pull_secret(labels={"orgsettings/org": "a" * 64})

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, secret)

    assert error.value.status == 422
    cause = status_of(error)["details"]["causes"][0]
    assert cause["field"] == "metadata.labels"
    assert cause["message"].endswith("must be no more than 63 characters")


def test_secret_type_cannot_change_on_replace(core, namespace):
    created = core.create_namespaced_secret(
        namespace, {"metadata": {"name": "registry-credentials"}, "data": {"a": b64("b")}}
    )
    changed = pull_secret(resourceVersion=created.metadata.resource_version)

    with pytest.raises(client.ApiException) as error:
        core.replace_namespaced_secret("registry-credentials", namespace, changed)

    assert error.value.status == 422
    assert status_of(error)["details"]["causes"][0]["field"] == "type"


# --- lists and selectors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=orgsettings", ["team-a/acme", "team-b/globex"]),
        ("app==orgsettings,org=acme", ["team-a/acme"]),
        ("org!=acme", ["team-a/unlabelled", "team-b/globex"]),
        ("org", ["team-a/acme", "team-b/globex"]),
        ("!org", ["team-a/unlabelled"]),
        ("org in (acme, globex)", ["team-a/acme", "team-b/globex"]),
        ("org notin (acme)", ["team-a/unlabelled", "team-b/globex"]),
    ],
)
def test_cluster_wide_list_filters_by_label_selector(fake_kube, core, selector, expected):
    fake_kube.add_namespace("team-a")
    fake_kube.add_namespace("team-b")
    core.create_namespaced_secret(
        "team-a", pull_secret("acme", labels={"app": "orgsettings", "org": "acme"})
    )
    core.create_namespaced_secret(
        "team-b", pull_secret("globex", labels={"app": "orgsettings", "org": "globex"})
    )
    core.create_namespaced_secret("team-a", pull_secret("unlabelled"))

    listed = core.list_secret_for_all_namespaces(label_selector=selector)

    assert [f"{s.metadata.namespace}/{s.metadata.name}" for s in listed.items] == expected


def test_list_answers_a_typed_list_with_a_resource_version(core, namespace):
    core.create_namespaced_secret(namespace, pull_secret())

    listed = core.list_namespaced_secret(namespace)

    assert listed.kind == "SecretList"
    assert listed.metadata.resource_version.isdigit()
    assert isinstance(listed.items[0], client.V1Secret)


def test_invalid_label_selector_is_400(core):
    with pytest.raises(client.ApiException) as error:
        core.list_secret_for_all_namespaces(label_selector="app=,=x")

    assert error.value.status == 400


def test_field_selector_filters_secrets_by_type(core, namespace):
    core.create_namespaced_secret(namespace, pull_secret())
    core.create_namespaced_secret(namespace, {"metadata": {"name": "opaque"}})

    listed = core.list_secret_for_all_namespaces(
        field_selector="type=kubernetes.io/dockerconfigjson"
    )

    assert [s.metadata.name for s in listed.items] == ["registry-credentials"]


def test_list_pages_through_limit_and_continue(core, namespace):
    for name in ("a", "b", "c"):
        core.create_namespaced_secret(namespace, pull_secret(name))

    first = core.list_namespaced_secret(namespace, limit=2)
    rest = core.list_namespaced_secret(namespace, limit=2, _continue=first.metadata.var_continue)

    assert [s.metadata.name for s in first.items] == ["a", "b"]
    assert [s.metadata.name for s in rest.items] == ["c"]
    assert rest.metadata.var_continue is None


# --- patches ---------------------------------------------------------------------------------


def test_strategic_merge_patch_replaces_the_whole_image_pull_secrets_list(
    core, fake_kube, namespace
):
    service_account(fake_kube, ["added-by-cluster-admin"])

    core.patch_namespaced_service_account(
        "default", namespace, {"imagePullSecrets": [{"name": "registry-credentials"}]}
    )

    assert pull_secret_names(fake_kube) == ["registry-credentials"]


def test_strategic_merge_patch_merges_service_account_secrets_by_name(core, fake_kube, namespace):
    fake_kube.put_object(
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
            "secrets": [{"name": "token"}],
        }
    )

    patched = core.patch_namespaced_service_account(
        "default", namespace, {"secrets": [{"name": "mountable"}]}
    )

    assert [ref.name for ref in patched.secrets] == ["token", "mountable"]


def test_strategic_merge_patch_merges_maps_and_null_deletes_a_key(core, namespace):
    core.create_namespaced_secret(namespace, pull_secret(labels={"keep": "1", "drop": "1"}))

    patched = core.patch_namespaced_secret(
        "registry-credentials", namespace, {"metadata": {"labels": {"drop": None, "new": "1"}}}
    )

    assert patched.metadata.labels == {"keep": "1", "new": "1"}


def test_merge_patch_follows_rfc_7386(core, fake_kube, namespace):
    service_account(fake_kube, ["a", "b"])

    core.patch_namespaced_service_account(
        "default",
        namespace,
        {"imagePullSecrets": [{"name": "c"}], "automountServiceAccountToken": False},
        _content_type="application/merge-patch+json",
    )

    account = fake_kube.get_object("serviceaccounts", namespace, "default")
    assert account["imagePullSecrets"] == [{"name": "c"}]
    assert account["automountServiceAccountToken"] is False


def test_json_patch_with_passing_test_op_appends_and_keeps_other_entries(
    core, fake_kube, namespace
):
    service_account(fake_kube, ["added-by-cluster-admin"])

    core.patch_namespaced_service_account(
        "default",
        namespace,
        [
            {
                "op": "test",
                "path": "/imagePullSecrets",
                "value": [{"name": "added-by-cluster-admin"}],
            },
            {"op": "add", "path": "/imagePullSecrets/-", "value": {"name": "registry-credentials"}},
        ],
    )

    assert pull_secret_names(fake_kube) == ["added-by-cluster-admin", "registry-credentials"]


def test_json_patch_with_failing_test_op_is_422_and_changes_nothing(core, fake_kube, namespace):
    before = service_account(fake_kube, ["added-by-cluster-admin"])

    with pytest.raises(client.ApiException) as error:
        core.patch_namespaced_service_account(
            "default",
            namespace,
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                {"op": "add", "path": "/imagePullSecrets/-", "value": {"name": "x"}},
            ],
        )

    assert error.value.status == 422
    assert status_of(error)["reason"] == "Invalid"
    assert fake_kube.get_object("serviceaccounts", namespace, "default") == before


def test_json_patch_removing_a_missing_path_is_422(core, fake_kube, namespace):
    service_account(fake_kube, [])

    with pytest.raises(client.ApiException) as error:
        core.patch_namespaced_service_account(
            "default", namespace, [{"op": "remove", "path": "/imagePullSecrets/0"}]
        )

    assert error.value.status == 422


def test_patch_carrying_a_stale_resource_version_is_409_conflict(core, fake_kube, namespace):
    account = service_account(fake_kube, [])
    stale = account["metadata"]["resourceVersion"]
    service_account(fake_kube, ["someone-else"])

    with pytest.raises(client.ApiException) as error:
        core.patch_namespaced_service_account(
            "default",
            namespace,
            {"metadata": {"resourceVersion": stale}, "imagePullSecrets": [{"name": "mine"}]},
        )

    assert error.value.status == 409
    assert status_of(error)["reason"] == "Conflict"
    assert pull_secret_names(fake_kube) == ["someone-else"]


def test_patch_of_missing_object_is_404(core, namespace):
    with pytest.raises(client.ApiException) as error:
        core.patch_namespaced_service_account("builder", namespace, {"imagePullSecrets": []})

    assert error.value.status == 404
    assert status_of(error)["message"] == 'serviceaccounts "builder" not found'


# --- namespaces and the default ServiceAccount -----------------------------------------------


def test_default_service_account_appears_shortly_after_its_namespace(core, fake_kube):
    # Long enough that a loaded machine still reads before it appears.
    fake_kube.default_sa_delay = 1.0
    core.create_namespace({"metadata": {"name": "team-b"}})

    with pytest.raises(client.ApiException) as error:
        core.read_namespaced_service_account("default", "team-b")
    assert error.value.status == 404

    time.sleep(1.2)
    assert core.read_namespaced_service_account("default", "team-b").metadata.name == "default"


def test_default_service_account_exists_at_once_when_delay_is_zero(core, fake_kube):
    fake_kube.default_sa_delay = 0
    core.create_namespace({"metadata": {"name": "team-b"}})

    assert core.read_namespaced_service_account("default", "team-b").metadata.name == "default"


def test_default_service_account_never_appears_when_switched_off(core, fake_kube):
    fake_kube.create_default_sa = False
    fake_kube.default_sa_delay = 0
    core.create_namespace({"metadata": {"name": "team-b"}})

    assert core.list_namespaced_service_account("team-b").items == []


def test_deleting_a_namespace_deletes_what_is_in_it(core, fake_kube, namespace):
    core.create_namespaced_secret(namespace, pull_secret())

    core.delete_namespace(namespace)

    assert fake_kube.objects("secrets") == []
    assert fake_kube.objects("serviceaccounts") == []
    assert fake_kube.objects("namespaces") == []


def test_deleting_a_secret_answers_a_success_status(core, namespace):
    created = core.create_namespaced_secret(namespace, pull_secret())

    answer = core.delete_namespaced_secret("registry-credentials", namespace)

    assert answer["status"] == "Success"
    assert answer["details"]["uid"] == created.metadata.uid


# --- failure switches ------------------------------------------------------------------------


def test_unreachable_server_refuses_connections_quickly(fake_kube, core):
    started = time.monotonic()
    with fake_kube.unreachable(), pytest.raises(urllib3.exceptions.MaxRetryError) as error:
        core.list_namespace()

    assert isinstance(error.value.reason, urllib3.exceptions.NewConnectionError)
    assert time.monotonic() - started < 2


def test_server_comes_back_on_the_same_port(fake_kube, core):
    port = fake_kube.port

    fake_kube.take_down()
    fake_kube.bring_up()

    assert fake_kube.port == port
    assert core.list_namespace().items == []


def test_slow_server_trips_the_client_read_timeout_after_applying_the_write(
    core, fake_kube, namespace
):
    fake_kube.slow(0.5)

    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.create_namespaced_secret(namespace, pull_secret(), _request_timeout=0.1)

    assert fake_kube.get_object("secrets", namespace, "registry-credentials") is not None


def test_fail_next_fails_only_the_matching_requests(core, fake_kube, namespace):
    fake_kube.fail_next(1, 503, method="POST", path_contains="/secrets")
    core.list_namespaced_secret(namespace)

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, pull_secret())

    assert error.value.status == 503
    assert status_of(error)["reason"] == "ServiceUnavailable"
    core.create_namespaced_secret(namespace, pull_secret())


def test_fail_all_403_answers_rbac_forbidden(core, fake_kube, namespace):
    fake_kube.fail_all(403, method="POST")

    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_secret(namespace, pull_secret())

    assert error.value.status == 403
    status = status_of(error)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'secrets is forbidden: User "system:serviceaccount:orgsettings:orgsettings" cannot'
        ' create resource "secrets" in API group "" in the namespace "team-a"'
    )


def test_fail_all_none_switches_failures_off(core, fake_kube):
    fake_kube.fail_all(500)
    fake_kube.fail_all(None)

    assert core.list_namespace().items == []


def test_conflict_next_makes_a_replace_with_the_read_version_409(core, fake_kube, namespace):
    fake_kube.conflict_next(1, "serviceaccounts")
    account = core.read_namespaced_service_account("default", namespace)
    account.image_pull_secrets = [client.V1LocalObjectReference(name="registry-credentials")]

    with pytest.raises(client.ApiException) as error:
        core.replace_namespaced_service_account("default", namespace, account)

    assert error.value.status == 409
    assert status_of(error)["reason"] == "Conflict"


def test_conflict_next_applies_the_other_writers_change(core, fake_kube, namespace):
    def append_admin_secret(account: dict[str, Any]) -> None:
        account.setdefault("imagePullSecrets", []).append({"name": "added-by-cluster-admin"})

    fake_kube.conflict_next(1, "serviceaccounts", mutate=append_admin_secret)
    account = core.read_namespaced_service_account("default", namespace)
    with pytest.raises(client.ApiException):
        core.replace_namespaced_service_account("default", namespace, account)

    account = core.read_namespaced_service_account("default", namespace)
    account.image_pull_secrets.append(client.V1LocalObjectReference(name="registry-credentials"))
    core.replace_namespaced_service_account("default", namespace, account)

    assert pull_secret_names(fake_kube) == ["added-by-cluster-admin", "registry-credentials"]


# --- request log and direct state ------------------------------------------------------------


def test_request_log_records_method_path_and_query(core, fake_kube):
    core.list_secret_for_all_namespaces(label_selector="app=orgsettings")

    assert fake_kube.requests == [("GET", "/api/v1/secrets", {"labelSelector": "app=orgsettings"})]
    assert fake_kube.count("GET", path_contains="/secrets") == 1


def test_writes_are_the_non_get_requests(core, fake_kube, namespace):
    core.create_namespaced_secret(namespace, pull_secret())
    core.read_namespaced_secret("registry-credentials", namespace)
    core.delete_namespaced_secret("registry-credentials", namespace)

    assert [request.method for request in fake_kube.writes()] == ["POST", "DELETE"]


def test_seeded_object_is_served_to_the_client(core, fake_kube, namespace):
    service_account(fake_kube, ["added-by-cluster-admin"], name="builder")

    account = core.read_namespaced_service_account("builder", namespace)

    assert [ref.name for ref in account.image_pull_secrets] == ["added-by-cluster-admin"]
    assert fake_kube.requests == [
        ("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/builder", {})
    ]


# --- discovery, for kubectl --------------------------------------------------------------------


def test_discovery_lists_core_and_group_versions(fake_kube, kubeconfig_path):
    api_client = config.new_client_from_config(config_file=str(kubeconfig_path))
    try:
        assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
        groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
        assert {"apps", "batch", "rbac.authorization.k8s.io"} <= groups
        core = {r.name: r.kind for r in client.CoreV1Api(api_client).get_api_resources().resources}
        assert core["secrets"] == "Secret"
        assert core["namespaces"] == "Namespace"
        apps = client.AppsV1Api(api_client).get_api_resources()
        assert {r.name for r in apps.resources} >= {"deployments"}
    finally:
        api_client.close()


def test_kinds_it_only_lists_in_discovery_are_not_found(fake_kube, kubeconfig_path):
    from kubernetes.client.exceptions import ApiException

    api_client = config.new_client_from_config(config_file=str(kubeconfig_path))
    try:
        with pytest.raises(ApiException) as error:
            client.AppsV1Api(api_client).read_namespaced_deployment("web", "platform")
        assert error.value.status == 404
    finally:
        api_client.close()


def test_without_a_token_it_serves_anyone(tmp_path):
    from tests.fakekube import FakeKubeServer

    server = FakeKubeServer(token=None).start()
    try:
        server.add_namespace("open")
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        try:
            names = {n.metadata.name for n in client.CoreV1Api(api_client).list_namespace().items}
            assert names == {"open"}
        finally:
            api_client.close()
    finally:
        server.stop()
