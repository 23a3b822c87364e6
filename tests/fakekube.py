"""A fake Kubernetes API server that the tests reach over real HTTP with the official client.

It serves the slice of core/v1 the product uses (Namespaces, Secrets, ServiceAccounts) with the
real paths, status codes and `Status` error bodies, the server-side validation the registries
feature depends on (dockerconfigjson, sizes, names, labels), optimistic concurrency through
resourceVersion, the three PATCH flavours, and the `default` ServiceAccount that a controller
creates shortly after its namespace. Tests drive misbehaviour through switches: an unreachable
port, slow responses, injected failures, a forbidden mode and concurrent writers.

It also answers API discovery (/api, /apis and each group version's resource list) for the
kinds the product's deploy/ manifests hold, so that `kubectl apply --dry-run=client` can map
them to URLs. It stores none of those other kinds: reading one answers 404, which is what a
dry run against a cluster that does not have them yet sees.

Standard library only, so the fake cannot lean on the client it is meant to check. Use the
fixtures through `pytest_plugins = ["tests.fakekube"]` in the root conftest, or import them.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import copy
import hashlib
import json
import re
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

MAX_SECRET_SIZE = 1024 * 1024
MAX_ANNOTATIONS_SIZE = 256 * 1024
DEFAULT_TOKEN = "fake-token"
DEFAULT_USER = "system:serviceaccount:orgsettings:orgsettings"


@dataclass(frozen=True)
class _Resource:
    plural: str
    kind: str
    namespaced: bool
    fields: frozenset[str]
    group: str = ""  # "" is the core group, served under /api/v1

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"


_METADATA_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)

RESOURCES = {
    resource.plural: resource
    for resource in (
        _Resource("namespaces", "Namespace", False, frozenset({"spec", "status"})),
        _Resource(
            "secrets", "Secret", True, frozenset({"data", "stringData", "type", "immutable"})
        ),
        _Resource(
            "serviceaccounts",
            "ServiceAccount",
            True,
            frozenset({"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
        ),
    )
}

# ---------------------------------------------------------------------------------------------
# Workloads: Pods (core/v1) and the apps/v1 controllers that own them. Their behaviour lives in
# the "Workloads" sections below; the rest of the server treats them like any other kind.

_WORKLOAD_FIELDS = frozenset({"spec", "status"})
RESOURCES["pods"] = _Resource("pods", "Pod", True, _WORKLOAD_FIELDS)
APPS_RESOURCES = {
    resource.plural: resource
    for resource in (
        _Resource("replicasets", "ReplicaSet", True, _WORKLOAD_FIELDS, "apps"),
        _Resource("deployments", "Deployment", True, _WORKLOAD_FIELDS, "apps"),
        _Resource("statefulsets", "StatefulSet", True, _WORKLOAD_FIELDS, "apps"),
        _Resource("daemonsets", "DaemonSet", True, _WORKLOAD_FIELDS, "apps"),
    )
}
# Kinds whose `status` is written only through their status subresource (by the kubelet or a
# controller): an update or patch of the object itself keeps the stored status.
_STATUS_SUBRESOURCE = frozenset({"pods", *APPS_RESOURCES})

_RESOURCE_ALIASES = {
    alias: resource
    for resource in (*RESOURCES.values(), *APPS_RESOURCES.values())
    for alias in (resource.plural, resource.kind.lower(), resource.plural.rstrip("s"))
}


def _resource(kind: str) -> _Resource:
    try:
        return _RESOURCE_ALIASES[kind.lower()]
    except KeyError:
        raise ValueError(f"the fake serves no kind {kind!r}") from None


def _api_resources(namespaced: list[tuple[str, str]], cluster: list[tuple[str, str]]) -> list:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    return [
        {
            "name": plural,
            "singularName": kind.lower(),
            "namespaced": scope,
            "kind": kind,
            "verbs": verbs,
        }
        for scope, kinds in ((True, namespaced), (False, cluster))
        for plural, kind in kinds
    ]


# group version: (namespaced (plural, kind), cluster-scoped (plural, kind))
DISCOVERY = {
    "v1": (
        [
            ("configmaps", "ConfigMap"),
            ("pods", "Pod"),
            ("secrets", "Secret"),
            ("serviceaccounts", "ServiceAccount"),
            ("services", "Service"),
        ],
        [("namespaces", "Namespace")],
    ),
    "apps/v1": ([("deployments", "Deployment"), ("replicasets", "ReplicaSet")], []),
    "batch/v1": ([("cronjobs", "CronJob"), ("jobs", "Job")], []),
    "policy/v1": ([("poddisruptionbudgets", "PodDisruptionBudget")], []),
    "rbac.authorization.k8s.io/v1": (
        [("rolebindings", "RoleBinding"), ("roles", "Role")],
        [("clusterrolebindings", "ClusterRoleBinding"), ("clusterroles", "ClusterRole")],
    ),
}


def _discovery(path: str) -> dict[str, Any] | None:
    """The legacy (unaggregated) discovery document at `path`, or None."""
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = []
        for group_version in DISCOVERY:
            if "/" not in group_version:
                continue
            group, version = group_version.split("/")
            preferred = {"groupVersion": group_version, "version": version}
            groups.append({"name": group, "versions": [preferred], "preferredVersion": preferred})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    group_version = path.removeprefix("/api/").removeprefix("/apis/")
    if group_version not in DISCOVERY or path.startswith("/api/") != ("/" not in group_version):
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": _api_resources(*DISCOVERY[group_version]),
    }


class Request(NamedTuple):
    method: str
    path: str
    query: dict[str, str]


class Access(NamedTuple):
    """What RBAC checks of a resource request: namespace None is the cluster scope."""

    verb: str
    resource: str
    namespace: str | None
    name: str | None
    group: str = ""  # the API group; "" is the core group


# ---------------------------------------------------------------------------------------------
# Status bodies, shaped like k8s.io/apimachinery/pkg/api/errors builds them.


class _ApiError(Exception):
    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status["message"])
        self.status = status

    @property
    def code(self) -> int:
        return self.status["code"]


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        status["details"] = details
    return status | {"code": code}


def _qualified(plural: str, name: str, group: str) -> tuple[str, dict[str, str]]:
    """How errors name a kind: `deployments.apps` outside the core group, with its details."""
    if not group:
        return plural, {"name": name, "kind": plural}
    return f"{plural}.{group}", {"name": name, "group": group, "kind": plural}


def _not_found(plural: str, name: str, group: str = "") -> _ApiError:
    shown, details = _qualified(plural, name, group)
    return _ApiError(_status(404, "NotFound", f'{shown} "{name}" not found', details))


def _already_exists(plural: str, name: str, group: str = "") -> _ApiError:
    shown, details = _qualified(plural, name, group)
    return _ApiError(_status(409, "AlreadyExists", f'{shown} "{name}" already exists', details))


def _conflict(plural: str, name: str, why: str, group: str = "") -> _ApiError:
    shown, details = _qualified(plural, name, group)
    message = f'Operation cannot be fulfilled on {shown} "{name}": {why}'
    return _ApiError(_status(409, "Conflict", message, details))


_STALE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def _bad_request(message: str) -> _ApiError:
    return _ApiError(_status(400, "BadRequest", message))


def _page_not_found() -> _ApiError:
    return _ApiError(
        _status(404, "NotFound", "the server could not find the requested resource", {})
    )


def _method_not_allowed() -> _ApiError:
    message = "the server does not allow this method on the requested resource"
    return _ApiError(_status(405, "MethodNotAllowed", message, {}))


@dataclass
class _Cause:
    field: str
    reason: str
    body: str

    @classmethod
    def invalid(cls, path: str, value: object, detail: str) -> _Cause:
        shown = json.dumps(value) if isinstance(value, str) else str(value)
        return cls(path, "FieldValueInvalid", f"Invalid value: {shown}: {detail}")

    @classmethod
    def required(cls, path: str) -> _Cause:
        return cls(path, "FieldValueRequired", "Required value")

    @classmethod
    def too_long(cls, path: str, limit: int) -> _Cause:
        return cls(path, "FieldValueTooLong", f"Too long: must have at most {limit} bytes")

    @classmethod
    def forbidden(cls, path: str, detail: str) -> _Cause:
        return cls(path, "FieldValueForbidden", f"Forbidden: {detail}")


def _invalid(kind: str, name: str, causes: list[_Cause]) -> _ApiError:
    errors = [f"{cause.field}: {cause.body}" for cause in causes]
    summary = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    details = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": cause.reason, "message": cause.body, "field": cause.field}
            for cause in causes
        ],
    }
    return _ApiError(_status(422, "Invalid", f'{kind} "{name}" is invalid: {summary}', details))


def _patch_rejected(message: str) -> _ApiError:
    # What NewGenericServerResponse(422, ...) builds when a JSON patch cannot be applied.
    details = {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]}
    return _ApiError(
        _status(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            details,
        )
    )


_REASONS = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    404: ("NotFound", "the server could not find the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected by the fake API server"),
    502: ("InternalError", "Internal error occurred: bad gateway"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted,"
        " but may still be processing the request",
    ),
}


# ---------------------------------------------------------------------------------------------
# Names, labels and Secret validation (pkg/apis/core/validation and apimachinery validation).

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")

_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used"
    r" for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and"
    " must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex"
    " used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
    " 'my_value',  or '12345', regex used for validation is"
    " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end"
    " with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used"
    " for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _name_problems(name: str, *, label: bool) -> list[str]:
    limit, pattern, message = (
        (63, _DNS1123_LABEL, _LABEL_MESSAGE)
        if label
        else (253, _DNS1123_SUBDOMAIN, _SUBDOMAIN_MESSAGE)
    )
    problems = []
    if len(name) > limit:
        problems.append(f"must be no more than {limit} characters")
    if not pattern.fullmatch(name):
        problems.append(message)
    return problems


def _qualified_name_problems(key: str) -> list[str]:
    prefix, _, name = key.rpartition("/")
    problems = []
    if "/" in prefix:
        return ["a qualified name must consist of a name part and an optional prefix part"]
    if key.endswith("/") or (prefix == "" and key.startswith("/")):
        return ["prefix part and name part must be non-empty"]
    if prefix:
        problems += [f"prefix part {p}" for p in _name_problems(prefix, label=False)]
    if len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    if not _LABEL_NAME.fullmatch(name):
        problems.append(_NAME_PART_MESSAGE)
    return problems


def _label_value_problems(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        problems.append(_LABEL_VALUE_MESSAGE)
    return problems


def _config_key_problems(key: str) -> list[str]:
    problems = []
    if len(key) > 253:
        problems.append("must be no more than 253 characters")
    if not _CONFIG_KEY.fullmatch(key):
        problems.append(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g."
            " 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is"
            " '[-._a-zA-Z0-9]+')"
        )
    if key in {".", ".."}:
        problems.append(f"must not be '{key}'")
    elif key.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def _metadata_causes(resource: _Resource, meta: dict[str, Any]) -> list[_Cause]:
    causes = []
    name = meta.get("name", "")
    if not name:
        causes.append(
            _Cause(
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        )
    for problem in _name_problems(name, label=resource.plural == "namespaces") if name else []:
        causes.append(_Cause.invalid("metadata.name", name, problem))
    for key, value in (meta.get("labels") or {}).items():
        for problem in _qualified_name_problems(key):
            causes.append(_Cause.invalid("metadata.labels", key, problem))
        for problem in _label_value_problems(value):
            causes.append(_Cause.invalid("metadata.labels", value, problem))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        for problem in _qualified_name_problems(key.lower()):
            causes.append(_Cause.invalid("metadata.annotations", key, problem))
    if sum(len(k) + len(v) for k, v in annotations.items()) > MAX_ANNOTATIONS_SIZE:
        causes.append(_Cause.too_long("metadata.annotations", MAX_ANNOTATIONS_SIZE))
    return causes


_REDACTED = "<secret contents redacted>"
_REQUIRED_SECRET_KEYS = {
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}
_DOCKER_KEYS = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _json_object_problem(raw: bytes) -> str | None:
    """Why `raw` does not unmarshal into a Go map[string]interface{}, or None."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        return str(error)
    if value is not None and not isinstance(value, dict):
        go_type = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
        return f"json: cannot unmarshal {go_type} into Go value of type map[string]interface {{}}"
    return None


def _secret_causes(secret: dict[str, Any], old: dict[str, Any] | None) -> list[_Cause]:
    causes = []
    data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
    for key in data:
        for problem in _config_key_problems(key):
            causes.append(_Cause.invalid(f"data[{key}]", key, problem))
    if sum(len(value) for value in data.values()) > MAX_SECRET_SIZE:
        causes.append(_Cause.too_long("data", MAX_SECRET_SIZE))

    secret_type = secret["type"]
    if secret_type in _DOCKER_KEYS:
        key = _DOCKER_KEYS[secret_type]
        if key not in data:
            causes.append(_Cause.required(f"data[{key}]"))
        elif (problem := _json_object_problem(data[key])) is not None:
            causes.append(_Cause.invalid(f"data[{key}]", _REDACTED, problem))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [_Cause.required("data[username]"), _Cause.required("data[password]")]
    elif secret_type == "kubernetes.io/service-account-token":
        annotations = secret["metadata"].get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(
                _Cause.required("metadata.annotations[kubernetes.io/service-account.name]")
            )
    for key in _REQUIRED_SECRET_KEYS.get(secret_type, ()):
        if key not in data:
            causes.append(_Cause.required(f"data[{key}]"))

    if old is not None:
        if secret_type != old["type"]:
            causes.append(_Cause.invalid("type", secret_type, "field is immutable"))
        if old.get("immutable"):
            why = "field is immutable when `immutable` is set"
            if secret.get("immutable") is not True:
                causes.append(_Cause.forbidden("immutable", why))
            if secret.get("data") != old.get("data"):
                causes.append(_Cause.forbidden("data", why))
    return causes


# ---------------------------------------------------------------------------------------------
# Label and field selectors (k8s.io/apimachinery/pkg/labels and pkg/fields).

_SELECTOR_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[^\s!=(),]+)")
_OPERATORS = frozenset({"!=", "==", "=", "!", "(", ")", ","})


class _Requirement(NamedTuple):
    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator in {"=", "in"}:
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # != and notin


def _tokenize(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _SELECTOR_TOKEN.match(text, position)
        if not match:
            raise _bad_request(f"unable to parse requirement: unexpected input at {position}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def _parse_label_selector(text: str) -> list[_Requirement]:
    tokens = _tokenize(text)
    requirements: list[_Requirement] = []

    def take(expected: str | None = None) -> str:
        if not tokens:
            raise _bad_request(f"found '', expected: {expected or 'identifier'}")
        token = tokens.pop(0)
        if expected is not None and token != expected:
            raise _bad_request(f"found '{token}', expected: {expected}")
        if expected is None and token in _OPERATORS:
            raise _bad_request(f"found '{token}', expected: identifier")
        return token

    while tokens:
        if tokens[0] == "!":
            tokens.pop(0)
            requirement = _Requirement(take(), "!exists", ())
        else:
            key = take()
            operator = tokens.pop(0) if tokens and tokens[0] != "," else "exists"
            if operator in {"=", "==", "!="}:
                value = "" if not tokens or tokens[0] == "," else take()
                requirement = _Requirement(key, "!=" if operator == "!=" else "=", (value,))
            elif operator in {"in", "notin"}:
                take("(")
                values = []
                while tokens and tokens[0] != ")":
                    values.append(take())
                    if tokens and tokens[0] == ",":
                        tokens.pop(0)
                take(")")
                if not values:
                    raise _bad_request(
                        "unable to parse requirement: for 'in', 'notin' operators, values set"
                        " can't be empty"
                    )
                requirement = _Requirement(key, operator, tuple(values))
            elif operator == "exists":
                requirement = _Requirement(key, "exists", ())
            else:
                raise _bad_request(f"found '{operator}', expected: in, notin, =, ==, !=, ,")
        problems = [f"key: {p}" for p in _qualified_name_problems(requirement.key)]
        for value in requirement.values:
            problems += [f"values[0][{requirement.key}]: {p}" for p in _label_value_problems(value)]
        if problems:
            raise _bad_request(f"unable to parse requirement: {problems[0]}")
        requirements.append(requirement)
        if tokens:
            take(",")
            if not tokens:
                raise _bad_request("found '', expected: identifier after ','")
    return requirements


def _field_value(resource: _Resource, obj: dict[str, Any], name: str) -> str:
    meta = obj["metadata"]
    if name == "metadata.name":
        return meta["name"]
    if name == "metadata.namespace":
        return meta.get("namespace", "")
    if resource.plural == "secrets" and name == "type":
        return obj["type"]
    if resource.plural == "namespaces" and name == "status.phase":
        return obj.get("status", {}).get("phase", "")
    if (value := _workload_field_value(resource, obj, name)) is not None:
        return value
    if resource.plural == "pods":
        # The pods' field label conversion answers so, before any object is read.
        raise _bad_request(f"field label not supported: {name}")
    raise _bad_request(
        f'"{name}" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def _field_matcher(resource: _Resource, text: str) -> Callable[[dict[str, Any]], bool]:
    terms = []
    for term in filter(None, (part.strip() for part in text.split(","))):
        match = re.fullmatch(r"([^!=]+?)\s*(!=|==|=)\s*(.*)", term)
        if not match:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        terms.append(match.groups())
    for name, _, _ in terms:
        _field_value(
            resource, {"metadata": {"name": ""}, "type": "", "status": {}, "spec": {}}, name
        )

    def matches(obj: dict[str, Any]) -> bool:
        return all(
            (_field_value(resource, obj, name) == value) == (operator != "!=")
            for name, operator, value in terms
        )

    return matches


# ---------------------------------------------------------------------------------------------
# PATCH flavours. Strategic merge knows the merge keys of the fields these kinds carry;
# every other list is atomic, as ServiceAccount.imagePullSecrets is in the real API.

_MERGE_KEYS = {
    ("metadata", "ownerReferences"): "uid",
    ("secrets",): "name",  # ServiceAccount.secrets: patchStrategy=merge, patchMergeKey=name
}
_MERGED_PRIMITIVE_LISTS = {("metadata", "finalizers")}


def _strategic_merge(target: Any, patch: dict[str, Any], path: tuple[str, ...] = ()) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {key: value for key, value in patch.items() if key != "$patch"}
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key in {"$patch", "$retainKeys"} or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            listed = key.split("/", 1)[1]
            result[listed] = [item for item in result.get(listed) or [] if item not in value]
            continue
        sub_path = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _strategic_merge(result.get(key), value, sub_path)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and sub_path in _MERGE_KEYS:
            result[key] = _merge_keyed_list(
                result.get(key) or [], value, _MERGE_KEYS[sub_path], sub_path
            )
        elif isinstance(value, list) and sub_path in _MERGED_PRIMITIVE_LISTS:
            current = list(result.get(key) or [])
            result[key] = current + [item for item in value if item not in current]
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_keyed_list(
    current: list[Any], patch: list[Any], merge_key: str, path: tuple[str, ...] = ()
) -> list[Any]:
    if {"$patch": "replace"} in patch:
        return [item for item in patch if item != {"$patch": "replace"}]
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise _bad_request(f"map: {item} does not contain declared merge key: {merge_key}")
        index = next(
            (i for i, existing in enumerate(result) if existing.get(merge_key) == item[merge_key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append({key: value for key, value in item.items() if key != "$patch"})
        else:
            # "[]" stands for "an item of the list" in the merge-key paths.
            result[index] = _strategic_merge(result[index], item, (*path, "[]"))
    return result


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _json_equal(a: Any, b: Any) -> bool:
    # Python's True == 1 would let a JSON patch `test` pass where the real server fails it.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class _PatchFailed(Exception):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f"invalid JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_insert: bool, path: str) -> int:
    if token == "-" and for_insert:
        return len(container)
    if not token.isdigit():
        raise _PatchFailed(f"doc is missing path: {path!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not for_insert):
        raise _PatchFailed(f"Unable to access invalid index: {index}")
    return index


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    parts = _pointer(path)
    if not parts:
        raise _PatchFailed("the whole document cannot be the target of this operation")
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _PatchFailed(f"doc is missing path: {path!r}")
    return node, parts[-1]


def _get(doc: Any, path: str) -> Any:
    if path == "":
        return doc
    parent, last = _parent(doc, path)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _PatchFailed(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any) -> None:
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_insert=True, path=path), value)
    else:
        raise _PatchFailed(f"doc is missing path: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, path)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, for_insert=False, path=path))
    raise _PatchFailed(f"doc is missing path: {path!r}")


def _json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902, failing the way evanphx/json-patch fails inside the API server."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise _bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for operation in operations:
        op, path = operation.get("op"), operation.get("path", "")
        try:
            if op == "add":
                _add(doc, path, copy.deepcopy(operation["value"]))
            elif op == "remove":
                _remove(doc, path)
            elif op == "replace":
                _get(doc, path)
                _remove(doc, path)
                _add(doc, path, copy.deepcopy(operation["value"]))
            elif op == "move":
                _add(doc, path, _remove(doc, operation["from"]))
            elif op == "copy":
                _add(doc, path, copy.deepcopy(_get(doc, operation["from"])))
            elif op == "test":
                if not _json_equal(_get(doc, path), operation.get("value")):
                    raise _PatchFailed(f"testing value {path} failed: test failed")
            else:
                raise _PatchFailed(f"Unexpected kind: {op}")
        except _PatchFailed as error:
            message = str(error)
            if op in {"add", "remove", "replace", "move", "copy"}:
                message = f"{op} operation does not apply: {message}"
            raise _patch_rejected(message) from None
        except KeyError as missing:
            raise _patch_rejected(f"{op} operation is missing {missing}") from None
    return doc


# ---------------------------------------------------------------------------------------------
# Workloads: Pods and the apps/v1 kinds (after pkg/apis/core/validation, pkg/apis/apps/validation
# and their registry strategies): merge keys, field selectors, validation and server defaults.

# Strategic merge keys of the pod spec, in a Pod and in a controller's pod template.
# "[]" stands for an item of the list above it.
_POD_SPEC_LISTS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "imagePullSecrets": "name",
    "volumes": "name",
}
_CONTAINER_LISTS = {"env": "name", "ports": "containerPort", "volumeMounts": "mountPath"}
for _spec_path in (("spec",), ("spec", "template", "spec")):
    for _field_name, _merge_key in _POD_SPEC_LISTS.items():
        _MERGE_KEYS[(*_spec_path, _field_name)] = _merge_key
    for _containers in ("containers", "initContainers", "ephemeralContainers"):
        for _field_name, _merge_key in _CONTAINER_LISTS.items():
            _MERGE_KEYS[(*_spec_path, _containers, "[]", _field_name)] = _merge_key

_POD_FIELD_SELECTORS = {
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "status.phase": ("status", "phase"),
    "status.podIP": ("status", "podIP"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
}


def _workload_field_value(resource: _Resource, obj: dict[str, Any], name: str) -> str | None:
    """The value of a field selector these kinds support beyond metadata, or None."""
    if resource.plural == "pods" and name in _POD_FIELD_SELECTORS:
        section, key = _POD_FIELD_SELECTORS[name]
        return str((obj.get(section) or {}).get(key) or "")
    if resource.plural == "pods" and name == "spec.hostNetwork":
        return "true" if (obj.get("spec") or {}).get("hostNetwork") else "false"
    if resource.plural == "replicasets" and name == "status.replicas":
        return str((obj.get("status") or {}).get("replicas") or 0)
    return None


def _go_map(value: Any) -> str:
    if not isinstance(value, dict):
        return "map[string]string(nil)"
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(value.items()))
    return f"map[string]string{{{inner}}}"


def _pod_spec_causes(spec: Any, path: str) -> list[_Cause]:
    if not isinstance(spec, dict):
        return [_Cause.required(path)]
    causes = []
    containers = spec.get("containers")
    if not containers:
        causes.append(_Cause.required(f"{path}.containers"))
    for listed in ("initContainers", "containers"):
        items = spec.get(listed) or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            causes.append(_Cause.invalid(f"{path}.{listed}", "", "must be a list of containers"))
            continue
        seen = set()
        for index, container in enumerate(items):
            where = f"{path}.{listed}[{index}]"
            name = container.get("name") or ""
            if not name:
                causes.append(_Cause.required(f"{where}.name"))
            else:
                for problem in _name_problems(name, label=True):
                    causes.append(_Cause.invalid(f"{where}.name", name, problem))
                if name in seen:
                    causes.append(
                        _Cause(f"{where}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"')
                    )
                seen.add(name)
            if not container.get("image"):
                causes.append(_Cause.required(f"{where}.image"))
    for index, ref in enumerate(spec.get("imagePullSecrets") or []):
        if not isinstance(ref, dict) or not ref.get("name"):
            causes.append(_Cause.required(f"{path}.imagePullSecrets[{index}].name"))
    return causes


# What `kubectl edit` may change in a running pod (ValidatePodUpdate).
_POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only"
    " additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set"
    " to 1 if it was previously negative)"
)


def _pod_spec_without_mutable(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        spec.pop(key, None)
    for listed in ("containers", "initContainers"):
        for container in spec.get(listed) or []:
            container.pop("image", None)
    return spec


def _workload_causes(
    resource: _Resource, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[_Cause]:
    spec = obj.get("spec")
    if resource.plural == "pods":
        causes = _pod_spec_causes(spec, "spec")
        changed = old is not None and _pod_spec_without_mutable(spec) != (
            _pod_spec_without_mutable(old.get("spec") or {})
        )
        if changed and not causes:
            causes.append(_Cause.forbidden("spec", _POD_UPDATE_MESSAGE))
        return causes
    if not isinstance(spec, dict):
        return [_Cause.required("spec")]
    causes = []
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    match_labels = (selector or {}).get("matchLabels") or {}
    if not selector or not (match_labels or selector.get("matchExpressions")):
        causes.append(_Cause.required("spec.selector"))
    elif any(labels.get(key) != value for key, value in match_labels.items()):
        causes.append(
            _Cause(
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    if old is not None and selector != (old.get("spec") or {}).get("selector"):
        causes.append(_Cause.invalid("spec.selector", _go_map(match_labels), "field is immutable"))
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.append(
            _Cause.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
        )
    causes += _pod_spec_causes(template.get("spec"), "spec.template.spec")
    return causes


def _prepare_workload_update(resource: _Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
    """What the registry strategies do on update: status is kept, generation follows spec."""
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    else:
        new.pop("status", None)
    if resource.plural in APPS_RESOURCES:
        generation = old["metadata"].get("generation", 1)
        if new.get("spec") != old.get("spec"):
            generation += 1
        new["metadata"]["generation"] = generation


def _daemon_set_status(*, desired: int, ready: int) -> dict[str, int]:
    return {
        "currentNumberScheduled": desired,
        "desiredNumberScheduled": desired,
        "numberMisscheduled": 0,
        "numberReady": ready,
    }


def _deleted_pod(pod: dict[str, Any]) -> dict[str, Any]:
    # A pod's DELETE answers the pod itself, marked for deletion, not a Status.
    gone = copy.deepcopy(pod)
    gone["metadata"]["deletionTimestamp"] = _now()
    gone["metadata"]["deletionGracePeriodSeconds"] = 30
    return gone


def _owner_reference(owner: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def _template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    # Real pod-template-hash values are short, safe-encoded strings like "7c5ddbdf54".
    return "".join(_SAFE_ALPHABET[int(c, 16) % len(_SAFE_ALPHABET)] for c in digest[:10])


_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _suffix() -> str:
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in uuid.uuid4().bytes[:5])


Waiting = tuple[str, str]  # (reason, message) of a container's state.waiting


def _container_status(
    container: dict[str, Any], waiting: Waiting | None, *, started_at: str, restarted: bool = False
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": waiting is None,
        "restartCount": 0,
        "started": waiting is None,
    }
    if waiting is None:
        status["state"] = {"running": {"startedAt": started_at}}
    else:
        reason, message = waiting
        status["state"] = {"waiting": {"reason": reason, "message": message}}
    if restarted:
        # It ran once, exited, and its next start waits: the kubelet keeps the last run.
        status["restartCount"] = 1
        status["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": started_at,
                "finishedAt": started_at,
            }
        }
    return status


def _finished_status(spec: dict[str, Any], phase: str) -> dict[str, Any]:
    """A pod whose containers have all terminated for good (restartPolicy Never or OnFailure):
    Succeeded when each exited 0, Failed otherwise. Nothing of it waits or pulls any more."""
    now = _now()
    code, reason = (0, "Completed") if phase == "Succeeded" else (1, "Error")
    terminated = {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now}
    return {
        "phase": phase,
        "qosClass": "BestEffort",
        "startTime": now,
        "hostIP": "10.0.0.10",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "lastTransitionTime": now},
        ],
        "containerStatuses": [
            _container_status(container, None, started_at=now)
            | {"ready": False, "started": False, "state": {"terminated": terminated}}
            for container in spec["containers"]
        ],
    }


def _pod_status(
    spec: dict[str, Any],
    waiting: Waiting | None,
    init_waiting: Waiting | None,
    *,
    restarted: bool = False,
) -> dict[str, Any]:
    """The status the kubelet reports for a pod whose pulls fail as given (None: they worked).

    A pod is Pending until each of its containers has started once. With `restarted` they
    have: the container ran, exited, and `waiting` is its next start, whose pull fails, so the
    pod stays Running (the init containers had completed; they do not run again)."""
    if restarted and init_waiting is not None:
        raise ValueError("a restarted pod's init containers have completed: no init_waiting")
    now = _now()
    init_containers = spec.get("initContainers") or []
    main_waiting = waiting
    if init_waiting is not None:
        # Containers do not start before the init containers have run.
        main_waiting = ("PodInitializing", "")
    status: dict[str, Any] = {
        "phase": "Running" if main_waiting is None or restarted else "Pending",
        "qosClass": "BestEffort",
        "startTime": now,
        "hostIP": "10.0.0.10",
        "podIP": "10.244.0.10",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {
                "type": "Ready",
                "status": "True" if main_waiting is None else "False",
                "lastTransitionTime": now,
            },
        ],
        "containerStatuses": [
            _container_status(
                container, main_waiting, started_at=now, restarted=restarted and bool(main_waiting)
            )
            for container in spec["containers"]
        ],
    }
    if init_containers:
        init_statuses = []
        for container in init_containers:
            if init_waiting is None:
                state = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": now}}
                init_statuses.append(
                    _container_status(container, None, started_at=now)
                    | {"ready": True, "started": False, "state": state}
                )
            else:
                init_statuses.append(_container_status(container, init_waiting, started_at=now))
        status["initContainerStatuses"] = init_statuses
    if main_waiting is not None and main_waiting[1] == "":
        for item in status["containerStatuses"]:
            item["state"]["waiting"].pop("message")
    return status


def _pod_template(
    name: str,
    image: str,
    *,
    init_image: str | None,
    pull_secrets: list[str] | None,
    service_account: str,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always",
        "serviceAccountName": service_account,
    }
    if init_image is not None:
        spec["initContainers"] = [{"name": "init", "image": init_image}]
    if pull_secrets is not None:
        spec["imagePullSecrets"] = [{"name": secret} for secret in pull_secrets]
    return {"metadata": {"labels": {"app": name}}, "spec": spec}


# ---------------------------------------------------------------------------------------------
# The server.


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _FailRule:
    status: int
    remaining: int | None  # None: until switched off
    method: str | None = None
    path_contains: str | None = None

    def matches(self, request: Request) -> bool:
        return (self.method is None or self.method.upper() == request.method) and (
            self.path_contains is None or self.path_contains in request.path
        )


@dataclass
class _ConcurrentWriter:
    remaining: int
    plural: str
    mutate: Callable[[dict[str, Any]], None] | None


@dataclass
class _Target:
    """What a request addresses, with the RBAC verb the real authorizer would check."""

    resource: _Resource | None
    verb: str
    namespace: str | None = None
    name: str | None = None


@dataclass
class _Reply:
    code: int
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeKubeServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a machine
        # without DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has closed its end; that is the point of those tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Store(dict):
    """Objects of one resource by key, counting changes to the set of keys, so that a paged
    LIST walks a sorted key list kept between pages (as a real API server pages from its
    index) instead of sorting everything for every page."""

    generation = 0

    def __setitem__(self, key, value) -> None:
        if key not in self:
            self.generation += 1
        super().__setitem__(key, value)

    def __delitem__(self, key) -> None:
        self.generation += 1
        super().__delitem__(key)

    def pop(self, key, *default):
        self.generation += 1
        return super().pop(key, *default)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeKubeServer:
    """An in-memory core/v1 API server on 127.0.0.1, with switches for misbehaviour."""

    def __init__(
        self,
        *,
        default_sa_delay: float | None = 0.2,
        create_default_sa: bool = True,
        token: str | None = DEFAULT_TOKEN,
        user: str = DEFAULT_USER,
    ) -> None:
        """`token=None` serves without authentication, as the API server's old insecure port
        did: kubectl sends no bearer token over plain HTTP."""
        self._defaults = (default_sa_delay, create_default_sa)
        self.token = token
        self.user = user
        self.port: int | None = None
        self._running = False
        self._lock = threading.RLock()
        self._httpd: _HTTPServer | None = None
        self._timers: list[threading.Timer] = []
        self._clear_state()

    def _clear_state(self) -> None:
        self.default_sa_delay, self.create_default_sa = self._defaults
        self._store: dict[str, _Store] = {
            plural: _Store() for plural in (*RESOURCES, *APPS_RESOURCES)
        }
        self._sorted_keys: dict[str, tuple[int, list[tuple[str, str]]]] = {}
        self._resource_version = 1000
        self._requests: list[Request] = []
        self._listed: list[tuple[str, str, str]] = []  # (plural, namespace, name) LISTs answered
        self._fail_rules: list[_FailRule] = []
        self._fail_all: _FailRule | None = None
        self._writer: _ConcurrentWriter | None = None
        self._delay = 0.0
        self._authorizer: Callable[[Access], bool] | None = None
        self._accesses: list[Access] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeKubeServer:
        self._listen(0)
        self._running = True
        return self

    def stop(self) -> None:
        self._running = False
        self.take_down()
        self.reset()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget every object, request and switch; come back up if the test left it down."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._clear_state()
        if self._running:
            self.bring_up()

    def write_kubeconfig(self, path: str | Path) -> Path:
        path = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-admin", "user": {"token": self.token} if self.token else {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake-admin"}}],
            "current-context": "fake",
        }
        # JSON is YAML, so the client's kubeconfig loader reads it as is.
        path.write_text(json.dumps(config, indent=2))
        return path

    def _listen(self, port: int) -> None:
        httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        httpd.fake = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        # A short poll interval keeps take_down() fast: shutdown() waits for one poll.
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    # -- failure switches ------------------------------------------------------------------

    def take_down(self) -> None:
        """Close the listening socket so that connections are refused."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def bring_up(self) -> None:
        """Listen again on the same port, so clients configured earlier reconnect."""
        if self._httpd is not None:
            return
        assert self.port is not None, "start() the server first"
        for attempt in range(50):
            try:
                self._listen(self.port)
                return
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.02)

    @contextlib.contextmanager
    def unreachable(self) -> Iterator[None]:
        self.take_down()
        try:
            yield
        finally:
            self.bring_up()

    def slow(self, seconds: float) -> None:
        """Delay every response by `seconds` (0 to stop); the request is processed first."""
        self._delay = seconds

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer the next `n` matching requests with an error Status instead of serving them."""
        with self._lock:
            self._fail_rules.append(_FailRule(status, n, method, path_contains))

    def fail_all(
        self,
        status: int | None = 500,
        *,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer every matching request with an error Status; 403 is RBAC's Forbidden.

        `fail_all(None)` switches it off.
        """
        with self._lock:
            self._fail_all = (
                None if status is None else _FailRule(status, None, method, path_contains)
            )

    def conflict_next(
        self,
        n: int = 1,
        kind: str = "serviceaccounts",
        mutate: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Let a concurrent writer change the target just before each of the next `n` writes.

        A write here is a PUT, PATCH or DELETE of an existing object of `kind`. The writer
        applies `mutate(obj)` if given and bumps the stored resourceVersion, so a request that
        carries the resourceVersion it read gets a real 409 Conflict.
        """
        with self._lock:
            self._writer = _ConcurrentWriter(n, _resource(kind).plural, mutate)

    # -- RBAC ------------------------------------------------------------------------------

    def enforce_rbac(self, authorizer: Callable[[Access], bool] | None) -> None:
        """Answer 403 Forbidden, as the RBAC authorizer does, to every resource request that
        `authorizer` refuses (None: allow all). Every resource request's Access is recorded."""
        with self._lock:
            self._authorizer = authorizer

    @property
    def accesses(self) -> list[Access]:
        with self._lock:
            return list(self._accesses)

    def _authorize(self, target: _Target) -> None:
        if target.resource is None:
            return
        access = Access(
            target.verb,
            target.resource.plural,
            target.namespace,
            target.name,
            target.resource.group,
        )
        with self._lock:
            self._accesses.append(access)
            authorizer = self._authorizer
        if authorizer is not None and not authorizer(access):
            raise self._forbidden(target)

    # -- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._accesses.clear()
            self._listed.clear()

    def listed(self, plural: str) -> set[tuple[str, str]]:
        """The (namespace, name) of each `plural` object a LIST answered with since the last
        clear_requests: what a client read, page by page."""
        with self._lock:
            return {(ns, name) for kind, ns, name in self._listed if kind == plural}

    def count(self, method: str | None = None, path_contains: str | None = None) -> int:
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method.upper())
            and (path_contains is None or path_contains in request.path)
        )

    def writes(self) -> list[Request]:
        return [request for request in self.requests if request.method != "GET"]

    # -- direct state ----------------------------------------------------------------------

    def add_namespace(
        self,
        name: str,
        with_default_sa: bool = True,
        *,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a namespace as if it had existed before the test, with its `default` SA."""
        with self._lock:
            if self._namespace(name) is not None:
                raise ValueError(f"namespace {name!r} already exists")
            namespace = self._insert(
                RESOURCES["namespaces"],
                {"metadata": {"name": name, "labels": dict(labels or {})}},
            )
            if with_default_sa:
                self._insert_default_sa(name)
            return copy.deepcopy(namespace)

    def get_object(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        resource = _resource(kind)
        with self._lock:
            obj = self._store[resource.plural].get(self._key(resource, namespace, name))
            return copy.deepcopy(obj)

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` as another writer would: no validation, no request logged.

        `obj` needs `kind` and `metadata.name` (and `metadata.namespace` for namespaced
        kinds, in a namespace that exists). An existing object is replaced.
        """
        resource = _resource(obj["kind"])
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        with self._lock:
            if resource.namespaced and self._namespace(meta.get("namespace", "")) is None:
                raise ValueError(f"namespace {meta.get('namespace')!r} does not exist")
            key = self._key(resource, meta.get("namespace"), meta["name"])
            old = self._store[resource.plural].get(key)
            if resource.plural == "secrets":
                self._merge_string_data(obj)
            if old is None:
                stored = self._insert(resource, obj)
            else:
                self._carry_over(resource, old, obj)
                stored = self._save(resource, obj)
            return copy.deepcopy(stored)

    def delete_object(self, kind: str, namespace: str | None, name: str) -> bool:
        resource = _resource(kind)
        with self._lock:
            key = self._key(resource, namespace, name)
            if key not in self._store[resource.plural]:
                return False
            self._remove(resource, key)
            return True

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        resource = _resource(kind)
        with self._lock:
            return [
                copy.deepcopy(obj)
                for key, obj in sorted(self._store[resource.plural].items())
                if namespace is None or key[0] == namespace
            ]

    # -- workloads: pods and apps/v1 --------------------------------------------------------
    # Direct state for tests (as if the controllers and the kubelet had acted), and the parts
    # of the API server that only these kinds have: the apps/v1 routes, pod admission and the
    # garbage collector that removes what an owner owned.

    def add_pod(
        self,
        namespace: str,
        name: str,
        image: str = "nginx",
        *,
        waiting: Waiting | None = None,
        init_image: str | None = None,
        init_waiting: Waiting | None = None,
        pull_secrets: list[str] | None = None,
        owner: dict[str, Any] | None = None,
        controller: bool = True,
        service_account: str = "default",
        labels: dict[str, str] | None = None,
        restarted: bool = False,
        finished: str | None = None,
    ) -> dict[str, Any]:
        """A pod as the kubelet reports it: running, or waiting with `waiting` =
        (reason, message) on its container (`init_waiting` on its init container).

        `restarted=True` makes `waiting` the restart of a container that ran before: the pod
        is Running. `finished` ("Succeeded" or "Failed") makes a pod whose containers have
        all terminated, and ignores `waiting`.

        `pull_secrets=None` gives the pod its ServiceAccount's `imagePullSecrets` as they are
        now, as admission does at creation; a list gives it exactly those. `owner` is the
        object (a dict with apiVersion, kind and metadata) named in its ownerReferences.
        """
        template = _pod_template(
            name,
            image,
            init_image=init_image,
            pull_secrets=pull_secrets,
            service_account=service_account,
        )
        template["metadata"]["labels"] = dict(labels or {})
        owner_refs = [] if owner is None else [_owner_reference(owner, controller=controller)]
        if finished is not None and finished not in ("Succeeded", "Failed"):
            raise ValueError(f"finished is Succeeded or Failed, not {finished!r}")
        with self._lock:
            pod = self._insert_pod(
                namespace, name, template, owner_refs, waiting, init_waiting, restarted=restarted
            )
            if finished is not None:
                pod["spec"]["restartPolicy"] = "Never"
                pod["status"] = _finished_status(pod["spec"], finished)
            return copy.deepcopy(pod)

    def add_deployment(
        self,
        namespace: str,
        name: str,
        image: str = "nginx",
        *,
        waiting: Waiting | None = None,
        replicas: int = 1,
        paused: bool = False,
        pull_secrets: list[str] | None = None,
        init_image: str | None = None,
        init_waiting: Waiting | None = None,
        restarted: bool = False,
    ) -> dict[str, Any]:
        """A Deployment with its ReplicaSet and `replicas` pods, as the controllers leave them.

        `waiting`, `init_waiting`, `restarted` and `pull_secrets` shape the pods as in
        `add_pod`; a `pull_secrets` list is also written into the pod template.
        """
        template = _pod_template(
            name, image, init_image=init_image, pull_secrets=pull_secrets, service_account="default"
        )
        spec = {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            "strategy": {"type": "RollingUpdate"},
        }
        if paused:
            spec["paused"] = True
        with self._lock:
            deployment = self._insert_workload("deployments", namespace, name, spec)
            self._roll_out(deployment, waiting, init_waiting, restarted=restarted)
            return copy.deepcopy(self._store["deployments"][(namespace, name)])

    def add_statefulset(
        self,
        namespace: str,
        name: str,
        image: str = "nginx",
        *,
        waiting: Waiting | None = None,
        replicas: int = 1,
        pull_secrets: list[str] | None = None,
        init_image: str | None = None,
        init_waiting: Waiting | None = None,
    ) -> dict[str, Any]:
        """A StatefulSet and its pods `<name>-0` … `<name>-<replicas-1>`."""
        template = _pod_template(
            name, image, init_image=init_image, pull_secrets=pull_secrets, service_account="default"
        )
        spec = {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        }
        with self._lock:
            workload = self._insert_workload("statefulsets", namespace, name, spec)
            self._roll_out(workload, waiting, init_waiting)
            return copy.deepcopy(self._store["statefulsets"][(namespace, name)])

    def add_daemonset(
        self,
        namespace: str,
        name: str,
        image: str = "nginx",
        *,
        waiting: Waiting | None = None,
        nodes: int = 1,
        pull_secrets: list[str] | None = None,
        init_image: str | None = None,
        init_waiting: Waiting | None = None,
    ) -> dict[str, Any]:
        """A DaemonSet with one pod on each of `nodes` nodes."""
        template = _pod_template(
            name, image, init_image=init_image, pull_secrets=pull_secrets, service_account="default"
        )
        spec = {"selector": {"matchLabels": {"app": name}}, "template": template}
        with self._lock:
            workload = self._insert_workload("daemonsets", namespace, name, spec)
            workload["status"] = {"desiredNumberScheduled": nodes}
            self._roll_out(workload, waiting, init_waiting)
            return copy.deepcopy(self._store["daemonsets"][(namespace, name)])

    def pods_of(self, kind: str, namespace: str, name: str) -> list[dict[str, Any]]:
        """The pods a workload owns now (a Deployment's through its ReplicaSets)."""
        resource = _resource(kind)
        with self._lock:
            owner = self._store[resource.plural].get((namespace, name))
            if owner is None:
                return []
            owners = {owner["metadata"]["uid"]}
            if resource.plural == "deployments":
                owners = {
                    rs["metadata"]["uid"]
                    for rs in self._store["replicasets"].values()
                    if self._owned_by(rs, owners)
                }
            return [
                copy.deepcopy(pod)
                for key, pod in sorted(self._store["pods"].items())
                if key[0] == namespace and self._owned_by(pod, owners)
            ]

    def set_waiting(
        self,
        namespace: str,
        pod: str,
        waiting: Waiting | None,
        *,
        init_waiting: Waiting | None = None,
        restarted: bool = False,
    ) -> dict[str, Any]:
        """Report the pod's pulls as failing with `waiting` (None: its containers run);
        `restarted` as in `add_pod`."""
        with self._lock:
            stored = self._store["pods"].get((namespace, pod))
            if stored is None:
                raise ValueError(f"no pod {namespace}/{pod}")
            stored["status"] = _pod_status(
                stored["spec"], waiting, init_waiting, restarted=restarted
            )
            stored["metadata"]["resourceVersion"] = self._next_resource_version()
            return copy.deepcopy(stored)

    def backdate_pods(self, namespace: str, seconds: int) -> None:
        """Make every pod of `namespace` `seconds` older, as if created that long ago."""
        with self._lock:
            for (pod_namespace, _), pod in self._store["pods"].items():
                if pod_namespace != namespace:
                    continue
                meta = pod["metadata"]
                created = datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00"))
                meta["creationTimestamp"] = (created - timedelta(seconds=seconds)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )

    def roll_out(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        waiting: Waiting | None = None,
        init_waiting: Waiting | None = None,
    ) -> list[dict[str, Any]]:
        """Act as the workload's controller after its template changed (a restart): replace its
        pods by new ones from the current template, admitted as new pods are (so they get
        the ServiceAccount's `imagePullSecrets` as they are now). Returns the new pods."""
        resource = _resource(kind)
        with self._lock:
            workload = self._store[resource.plural].get((namespace, name))
            if workload is None:
                raise ValueError(f"no {resource.kind} {namespace}/{name}")
            self._roll_out(workload, waiting, init_waiting)
        return self.pods_of(kind, namespace, name)

    def _insert_workload(
        self, plural: str, namespace: str, name: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        if self._namespace(namespace) is None:
            raise ValueError(f"namespace {namespace!r} does not exist")
        obj = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "generation": 1,
                "labels": {"app": name},
            },
            "spec": spec,
            "status": {"observedGeneration": 1},
        }
        return self._insert(APPS_RESOURCES[plural], obj)

    def _roll_out(
        self,
        workload: dict[str, Any],
        waiting: Waiting | None,
        init_waiting: Waiting | None,
        *,
        restarted: bool = False,
    ) -> None:
        meta, spec = workload["metadata"], workload["spec"]
        namespace, name = meta["namespace"], meta["name"]
        plural = _resource(workload["kind"]).plural
        for key, pod in list(self._store["pods"].items()):
            if key[0] == namespace and self._owned_by(pod, {meta["uid"]}):
                self._remove(RESOURCES["pods"], key)
        template = copy.deepcopy(spec["template"])
        owner = workload
        count = spec.get("replicas", 1)
        if plural == "deployments":
            pod_hash = _template_hash(template)
            template["metadata"].setdefault("labels", {})["pod-template-hash"] = pod_hash
            for key, rs in list(self._store["replicasets"].items()):
                if key[0] == namespace and self._owned_by(rs, {meta["uid"]}):
                    # The old ReplicaSet is scaled to 0 and kept for history; its pods go.
                    rs["spec"]["replicas"] = 0
                    rs["status"] = {"replicas": 0, "observedGeneration": 1}
                    rs["metadata"]["resourceVersion"] = self._next_resource_version()
                    for pod_key, pod in list(self._store["pods"].items()):
                        if self._owned_by(pod, {rs["metadata"]["uid"]}):
                            self._remove(RESOURCES["pods"], pod_key)
            rs_name = f"{name}-{pod_hash}"
            revision = str(
                1
                + sum(
                    1
                    for rs in self._store["replicasets"].values()
                    if self._owned_by(rs, {meta["uid"]})
                )
            )
            rs_obj = {
                "metadata": {
                    "name": rs_name,
                    "namespace": namespace,
                    "generation": 1,
                    "labels": dict(template["metadata"]["labels"]),
                    "annotations": {"deployment.kubernetes.io/revision": revision},
                    "ownerReferences": [_owner_reference(workload)],
                },
                "spec": {
                    "replicas": count,
                    "selector": {"matchLabels": dict(template["metadata"]["labels"])},
                    "template": template,
                },
                "status": {"replicas": count, "observedGeneration": 1},
            }
            self._store["replicasets"].pop((namespace, rs_name), None)
            owner = self._insert(APPS_RESOURCES["replicasets"], rs_obj)
        if plural == "daemonsets":
            count = workload.get("status", {}).get("desiredNumberScheduled", 1)
        prefix = owner["metadata"]["name"]
        for index in range(count):
            pod_name = f"{prefix}-{index}" if plural == "statefulsets" else f"{prefix}-{_suffix()}"
            self._insert_pod(
                namespace,
                pod_name,
                template,
                [_owner_reference(owner)],
                waiting,
                init_waiting,
                restarted=restarted,
            )
        ready = 0 if waiting or init_waiting else count
        status = {"observedGeneration": meta.get("generation", 1), "replicas": count}
        status |= {"readyReplicas": ready, "unavailableReplicas": count - ready}
        if plural == "daemonsets":
            status = _daemon_set_status(desired=count, ready=ready)
        workload["status"] = status
        workload["metadata"]["resourceVersion"] = self._next_resource_version()

    def _insert_pod(
        self,
        namespace: str,
        name: str,
        template: dict[str, Any],
        owner_refs: list[dict[str, Any]],
        waiting: Waiting | None,
        init_waiting: Waiting | None,
        *,
        restarted: bool = False,
    ) -> dict[str, Any]:
        if self._namespace(namespace) is None:
            raise ValueError(f"namespace {namespace!r} does not exist")
        spec = copy.deepcopy(template["spec"])
        spec["nodeName"] = "node-1"
        if not spec.get("imagePullSecrets"):
            spec.pop("imagePullSecrets", None)
            account = self._store["serviceaccounts"].get(
                (namespace, spec.get("serviceAccountName") or "default")
            )
            copied = (account or {}).get("imagePullSecrets")
            if copied:
                spec["imagePullSecrets"] = copy.deepcopy(copied)
        pod = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": owner_refs,
            },
            "spec": spec,
            "status": _pod_status(spec, waiting, init_waiting, restarted=restarted),
        }
        return self._insert(RESOURCES["pods"], pod)

    @staticmethod
    def _owned_by(obj: dict[str, Any], owner_uids: set[str]) -> bool:
        return any(
            ref.get("uid") in owner_uids for ref in obj["metadata"].get("ownerReferences") or []
        )

    def _route_apps(self, request: Request, rest: list[str]) -> _Target:
        """Routes under /apis/apps/v1, shaped like the core ones."""
        method = request.method
        if len(rest) == 1 and rest[0] in APPS_RESOURCES:
            if method != "GET":
                raise _method_not_allowed()
            target = _Target(APPS_RESOURCES[rest[0]], "list")
        elif len(rest) in (3, 4) and rest[0] == "namespaces" and rest[2] in APPS_RESOURCES:
            name = rest[3] if len(rest) == 4 else None
            if name is None:
                verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
            else:
                verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
            if method not in verbs:
                raise _method_not_allowed()
            target = _Target(APPS_RESOURCES[rest[2]], verbs[method], rest[1], name)
        else:
            raise _page_not_found()
        if request.query.get("watch") in {"true", "1"}:
            raise _bad_request("the fake API server does not serve watches")
        if "dryRun" in request.query:
            raise _bad_request("the fake API server does not support dryRun")
        return target

    def _prepare_workload_create(
        self, resource: _Resource, obj: dict[str, Any], namespace: str
    ) -> None:
        """Server defaults and admission for a created Pod or apps/v1 object."""
        if resource.plural in APPS_RESOURCES:
            # Counts the API always serializes (int32 fields without omitempty).
            obj["status"] = (
                _daemon_set_status(desired=0, ready=0)
                if resource.plural == "daemonsets"
                else {"replicas": 0}
                if resource.plural in {"replicasets", "statefulsets"}
                else {}
            )
            obj["metadata"]["generation"] = 1
            if resource.plural != "daemonsets":
                obj["spec"].setdefault("replicas", 1)
            return
        # The ServiceAccount admission plugin: the pod runs as `default` unless it names
        # another, which must exist; a pod naming no pull secrets gets its account's.
        spec = obj["spec"]
        account_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = account_name
        account = self._store["serviceaccounts"].get((namespace, account_name))
        if account is None:
            message = (
                f'pods "{obj["metadata"]["name"]}" is forbidden: error looking up service'
                f" account {namespace}/{account_name}: serviceaccount"
                f' "{account_name}" not found'
            )
            details = {"name": obj["metadata"]["name"], "kind": "pods"}
            raise _ApiError(_status(403, "Forbidden", message, details))
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = copy.deepcopy(account["imagePullSecrets"])
        spec.setdefault("restartPolicy", "Always")
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def _collect_garbage(self, owner: dict[str, Any]) -> None:
        """Remove what `owner` owned, as the garbage collector's background deletion does."""
        uid = owner["metadata"].get("uid")
        for plural in _STATUS_SUBRESOURCE:
            for key, obj in list(self._store[plural].items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if key in self._store[plural] and any(ref.get("uid") == uid for ref in refs):
                    self._remove(_resource(plural), key)

    # -- storage ---------------------------------------------------------------------------

    @staticmethod
    def _key(resource: _Resource, namespace: str | None, name: str) -> tuple[str, str]:
        return (namespace or "" if resource.namespaced else "", name)

    def _namespace(self, name: str) -> dict[str, Any] | None:
        return self._store["namespaces"].get(("", name))

    def _next_resource_version(self) -> str:
        self._resource_version += 1
        return str(self._resource_version)

    def _insert(self, resource: _Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        for server_field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            meta.pop(server_field, None)
        if resource.plural == "namespaces":
            meta.pop("namespace", None)
            # Set by the API server itself since Kubernetes 1.21.
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        if resource.plural == "secrets":
            obj["type"] = obj.get("type") or "Opaque"
        return self._save(resource, obj)

    def _carry_over(self, resource: _Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Keep what a client cannot change through an update."""
        meta, old_meta = new["metadata"], old["metadata"]
        for kept in ("uid", "creationTimestamp", "namespace"):
            if kept in old_meta:
                meta[kept] = old_meta[kept]
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if resource.plural == "namespaces":
            new["spec"], new["status"] = old["spec"], old["status"]
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if resource.plural == "secrets":
            new["type"] = new.get("type") or "Opaque"

    def _save(self, resource: _Resource, obj: dict[str, Any]) -> dict[str, Any]:
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        _prune(obj)
        meta = obj["metadata"]
        key = self._key(resource, meta.get("namespace"), meta["name"])
        old = self._store[resource.plural].get(key)
        # An update that changes nothing is not written, so it keeps its resourceVersion.
        if old is None or _without_version(old) != _without_version(obj):
            meta["resourceVersion"] = self._next_resource_version()
            self._store[resource.plural][key] = obj
        return self._store[resource.plural][key]

    def _remove(self, resource: _Resource, key: tuple[str, str]) -> dict[str, Any]:
        obj = self._store[resource.plural].pop(key)
        if resource.plural == "namespaces":
            for plural, store in self._store.items():
                if plural == "namespaces":
                    continue
                for contained in [k for k in store if k[0] == key[1]]:
                    del store[contained]
        else:
            self._collect_garbage(obj)
        return obj

    @staticmethod
    def _merge_string_data(secret: dict[str, Any]) -> None:
        string_data = secret.pop("stringData", None) or {}
        if string_data:
            data = dict(secret.get("data") or {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(value.encode()).decode()
            secret["data"] = data

    # -- the default ServiceAccount controller ---------------------------------------------

    def _namespace_created(self, namespace: dict[str, Any]) -> None:
        if not self.create_default_sa:
            return
        if not self.default_sa_delay:
            self._insert_default_sa(namespace["metadata"]["name"])
            return
        self._schedule_default_sa(namespace)

    def _schedule_default_sa(self, namespace: dict[str, Any]) -> None:
        meta = namespace["metadata"]
        timer = threading.Timer(
            self.default_sa_delay or 0, self._controller_tick, (meta["name"], meta["uid"])
        )
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _controller_tick(self, name: str, uid: str) -> None:
        with self._lock:
            namespace = self._namespace(name)
            # The namespace may have been deleted, or deleted and recreated, meanwhile.
            if namespace is not None and namespace["metadata"]["uid"] == uid:
                self._insert_default_sa(name)

    def _insert_default_sa(self, namespace: str) -> None:
        resource = RESOURCES["serviceaccounts"]
        if (namespace, "default") not in self._store["serviceaccounts"]:
            self._insert(resource, {"metadata": {"name": "default", "namespace": namespace}})

    # -- HTTP ------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        request = Request(handler.command, url.path, dict(parse_qsl(url.query)))
        with self._lock:
            self._requests.append(request)
        reply = self._reply(request, handler.headers, body)
        if self._delay:
            time.sleep(self._delay)
        payload = json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            for warning in reply.warnings:
                handler.send_header("Warning", f'299 - "{warning}"')
            handler.end_headers()
            handler.wfile.write(payload)
        except ConnectionError:
            pass

    def _reply(self, request: Request, headers: Any, body: bytes) -> _Reply:
        try:
            if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
                raise _ApiError(_status(401, "Unauthorized", "Unauthorized"))
            target = self._route(request)
            self._authorize(target)
            self._inject_failure(request, target)
            with self._lock:
                return self._dispatch(target, request, headers.get("Content-Type", ""), body)
        except _ApiError as error:
            return _Reply(error.code, error.status)
        except Exception:  # a bug in the fake: surface it in the test's output
            traceback.print_exc()
            return _Reply(500, _status(500, "InternalError", traceback.format_exc()))

    def _route(self, request: Request) -> _Target:
        method = request.method
        if request.path == "/version":
            if method != "GET":
                raise _method_not_allowed()
            return _Target(None, "version")
        if _discovery(request.path.rstrip("/")) is not None:
            if method != "GET":
                raise _method_not_allowed()
            return _Target(None, "discovery", name=request.path.rstrip("/"))
        parts = [unquote(part) for part in request.path.strip("/").split("/")]
        if parts[:3] == ["apis", "apps", "v1"] and len(parts) > 3:
            return self._route_apps(request, parts[3:])
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise _page_not_found()
        rest = parts[2:]
        collection_verbs = {"GET": "list", "POST": "create"}
        item_verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        if rest == ["namespaces"]:
            resource, namespace, name = RESOURCES["namespaces"], None, None
        elif len(rest) == 2 and rest[0] == "namespaces":
            resource, namespace, name = RESOURCES["namespaces"], None, rest[1]
        elif len(rest) == 1 and rest[0] in RESOURCES:
            if method != "GET":
                raise _method_not_allowed()
            return _Target(RESOURCES[rest[0]], "list")
        elif len(rest) in (3, 4) and rest[0] == "namespaces" and rest[2] in RESOURCES:
            resource, namespace = RESOURCES[rest[2]], rest[1]
            name = rest[3] if len(rest) == 4 else None
            if not resource.namespaced:
                raise _page_not_found()
        else:
            raise _page_not_found()
        verbs = collection_verbs if name is None else item_verbs
        if name is None and resource.namespaced:
            verbs = verbs | {"DELETE": "deletecollection"}
        if method not in verbs:
            raise _method_not_allowed()
        if request.query.get("watch") in {"true", "1"}:
            raise _bad_request("the fake API server does not serve watches")
        if "dryRun" in request.query:
            raise _bad_request("the fake API server does not support dryRun")
        return _Target(resource, verbs[method], namespace, name)

    def _inject_failure(self, request: Request, target: _Target) -> None:
        with self._lock:
            rule = next((r for r in self._fail_rules if r.remaining and r.matches(request)), None)
            if rule is not None:
                rule.remaining = (rule.remaining or 0) - 1
            elif self._fail_all is not None and self._fail_all.matches(request):
                rule = self._fail_all
        if rule is None:
            return
        if rule.status == 403:
            raise self._forbidden(target)
        reason, message = _REASONS.get(
            rule.status, ("", f"the server responded with the status code {rule.status}")
        )
        raise _ApiError(_status(rule.status, reason, message))

    def _forbidden(self, target: _Target) -> _ApiError:
        if target.resource is None:
            path = target.name or "/version"
            message = f'forbidden: User "{self.user}" cannot get path "{path}"'
            return _ApiError(_status(403, "Forbidden", message, {}))
        plural = target.resource.plural
        namespace = target.name if plural == "namespaces" else target.namespace
        subject = f'{plural} "{target.name}"' if target.name else plural
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = (
            f'{subject} is forbidden: User "{self.user}" cannot {target.verb} resource'
            f' "{plural}" in API group "{target.resource.group}" {scope}'
        )
        details = {"name": target.name, "kind": plural} if target.name else {"kind": plural}
        return _ApiError(_status(403, "Forbidden", message, details))

    def _dispatch(
        self, target: _Target, request: Request, content_type: str, body: bytes
    ) -> _Reply:
        resource = target.resource
        if target.verb == "discovery":
            return _Reply(200, _discovery(target.name or "") or {})
        if resource is None:
            return _Reply(
                200,
                {"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "platform": "fake"},
            )
        if target.verb in {"list", "deletecollection"}:
            return self._list(resource, target.namespace, request.query, target.verb)
        if target.verb == "create":
            return self._create(resource, target.namespace, body)
        assert target.name is not None
        key = self._key(resource, target.namespace, target.name)
        if target.verb != "get":
            self._concurrent_write(resource, key)
        if target.verb == "get":
            return _Reply(200, copy.deepcopy(self._existing(resource, key)))
        if target.verb == "update":
            return self._update(resource, key, body)
        if target.verb == "patch":
            return self._patch(resource, key, body, content_type)
        return self._delete(resource, key, body)

    def _existing(self, resource: _Resource, key: tuple[str, str]) -> dict[str, Any]:
        obj = self._store[resource.plural].get(key)
        if obj is None:
            raise _not_found(resource.plural, key[1], resource.group)
        return obj

    def _concurrent_write(self, resource: _Resource, key: tuple[str, str]) -> None:
        writer = self._writer
        obj = self._store[resource.plural].get(key)
        if writer is None or writer.plural != resource.plural or obj is None:
            return
        writer.remaining -= 1
        if writer.remaining <= 0:
            self._writer = None
        changed = copy.deepcopy(obj)
        if writer.mutate is not None:
            writer.mutate(changed)
        changed["metadata"]["resourceVersion"] = self._next_resource_version()
        self._store[resource.plural][key] = changed

    # -- verbs -----------------------------------------------------------------------------

    def _list(
        self, resource: _Resource, namespace: str | None, query: dict[str, str], verb: str
    ) -> _Reply:
        requirements = _parse_label_selector(query.get("labelSelector", ""))
        field_matches = _field_matcher(resource, query.get("fieldSelector", ""))
        list_version = str(self._resource_version)
        start: tuple[str, str] | None = None
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                list_version, start = token["rv"], tuple(token["start"])
            except (ValueError, KeyError, TypeError):
                raise _bad_request("continue key is not valid") from None
        store = self._store[resource.plural]
        cached = self._sorted_keys.get(resource.plural)
        if cached is None or cached[0] != store.generation:
            cached = (store.generation, sorted(store))
            self._sorted_keys[resource.plural] = cached
        keys = cached[1]
        limit = int(query.get("limit") or 0)
        selected = []
        for key in keys[bisect.bisect_right(keys, start) if start is not None else 0 :]:
            obj = store[key]
            if (
                (namespace is None or key[0] == namespace)
                and all(r.matches(obj["metadata"].get("labels") or {}) for r in requirements)
                and field_matches(obj)
            ):
                selected.append((key, obj))
                if verb == "list" and limit and len(selected) > limit:
                    break
        metadata: dict[str, Any] = {"resourceVersion": list_version}
        if verb == "list" and limit and len(selected) > limit:
            selected = selected[:limit]
            token = {"rv": list_version, "start": list(selected[-1][0])}
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        if verb == "deletecollection":
            for key, _ in selected:
                self._remove(resource, key)
        items = []
        if verb == "list":
            self._listed += [(resource.plural, *key) for key, _ in selected]
        for _, obj in selected:
            # Items of a real list carry neither kind nor apiVersion.
            item = copy.deepcopy(obj)
            del item["kind"], item["apiVersion"]
            items.append(item)
        body = {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": metadata,
        }
        return _Reply(200, body | {"items": items})

    def _create(self, resource: _Resource, namespace: str | None, body: bytes) -> _Reply:
        obj, warnings = self._decode(resource, body)
        meta = obj["metadata"]
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on"
                    " the request"
                )
            meta["namespace"] = namespace
        if meta.get("resourceVersion"):
            raise _bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if resource.namespaced and self._namespace(namespace or "") is None:
            raise _not_found("namespaces", namespace or "")
        causes = _metadata_causes(resource, meta)
        if resource.plural == "secrets":
            causes += _secret_causes(obj | {"type": obj.get("type") or "Opaque"}, None)
        if resource.plural in _STATUS_SUBRESOURCE:
            causes += _workload_causes(resource, obj, None)
            if not causes:
                self._prepare_workload_create(resource, obj, namespace or "")
        if causes:
            raise _invalid(resource.kind, meta.get("name", ""), causes)
        key = self._key(resource, namespace, meta["name"])
        if key in self._store[resource.plural]:
            raise _already_exists(resource.plural, meta["name"], resource.group)
        stored = self._insert(resource, obj)
        if resource.plural == "namespaces":
            self._namespace_created(stored)
        return _Reply(201, copy.deepcopy(stored), warnings)

    def _update(self, resource: _Resource, key: tuple[str, str], body: bytes) -> _Reply:
        obj, warnings = self._decode(resource, body)
        return self._write(resource, key, obj, warnings)

    def _patch(
        self, resource: _Resource, key: tuple[str, str], body: bytes, content_type: str
    ) -> _Reply:
        current = self._existing(resource, key)
        try:
            patch = json.loads(body or b"null")
        except ValueError as error:
            raise _bad_request(f"error decoding patch: {error}") from None
        flavour = content_type.split(";")[0].strip().lower()
        if flavour == "application/json-patch+json":
            patched = _json_patch(current, patch)
        elif flavour in {"application/merge-patch+json", "application/strategic-merge-patch+json"}:
            if not isinstance(patch, dict):
                raise _bad_request("patch body must be a JSON object")
            if flavour == "application/merge-patch+json":
                patched = _merge_patch(current, patch)
            else:
                patched = _strategic_merge(current, patch)
        else:
            message = (
                f"the body of the request was in an unknown format - accepted media types"
                f" include: application/json-patch+json, application/merge-patch+json,"
                f" application/strategic-merge-patch+json (not {flavour!r})"
            )
            raise _ApiError(_status(415, "UnsupportedMediaType", message))
        try:
            obj, warnings = self._decode(resource, json.dumps(patched).encode())
        except _ApiError as error:
            # The patched document no longer decodes: the real server reports this as 422.
            raise _patch_rejected(error.status["message"]) from None
        return self._write(resource, key, obj, warnings)

    def _write(
        self,
        resource: _Resource,
        key: tuple[str, str],
        obj: dict[str, Any],
        warnings: list[str],
    ) -> _Reply:
        meta, name = obj["metadata"], key[1]
        if meta.get("name") != name:
            raise _bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on"
                f" the URL ({name})"
            )
        if resource.namespaced and meta.get("namespace") not in (None, "", key[0]):
            raise _bad_request(
                "the namespace of the provided object does not match the namespace sent on the"
                " request"
            )
        old = self._existing(resource, key)
        old_meta = old["metadata"]
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            why = (
                f"Precondition failed: UID in precondition: {meta['uid']},"
                f" UID in object meta: {old_meta['uid']}"
            )
            raise _conflict(resource.plural, name, why, resource.group)
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            raise _conflict(resource.plural, name, _STALE, resource.group)
        self._carry_over(resource, old, obj)
        causes = _metadata_causes(resource, meta)
        if resource.plural == "secrets":
            causes += _secret_causes(obj, old)
        if resource.plural in _STATUS_SUBRESOURCE:
            _prepare_workload_update(resource, old, obj)
            causes += _workload_causes(resource, obj, old)
        if causes:
            raise _invalid(resource.kind, name, causes)
        return _Reply(200, copy.deepcopy(self._save(resource, obj)), warnings)

    def _delete(self, resource: _Resource, key: tuple[str, str], body: bytes) -> _Reply:
        obj = self._existing(resource, key)
        meta = obj["metadata"]
        try:
            options = json.loads(body) if body else {}
        except ValueError as error:
            raise _bad_request(f"error decoding DeleteOptions: {error}") from None
        preconditions = (options or {}).get("preconditions") or {}
        for field_name, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = preconditions.get(field_name)
            if wanted and wanted != meta[field_name]:
                why = (
                    f"Precondition failed: {label} in precondition: {wanted},"
                    f" {label} in object meta: {meta[field_name]}"
                )
                raise _conflict(resource.plural, key[1], why, resource.group)
        self._remove(resource, key)
        if resource.plural == "pods":
            return _Reply(200, _deleted_pod(obj))
        if resource.plural == "namespaces":
            # The real namespace lingers in Terminating while its content is deleted; here
            # the content goes at once and the reply is what the real DELETE returns.
            gone = copy.deepcopy(obj)
            gone["metadata"]["deletionTimestamp"] = _now()
            gone["metadata"]["resourceVersion"] = self._next_resource_version()
            gone["status"] = {"phase": "Terminating"}
            return _Reply(200, gone)
        if resource.plural == "serviceaccounts":
            if key[1] == "default" and self.create_default_sa:
                namespace = self._namespace(key[0])
                if namespace is not None:
                    self._namespace_created(namespace)
            return _Reply(200, copy.deepcopy(obj))
        details = {"name": key[1], "kind": resource.plural, "uid": meta["uid"]}
        return _Reply(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            },
        )

    def _decode(self, resource: _Resource, body: bytes) -> tuple[dict[str, Any], list[str]]:
        """Parse a request body the way the real decoder does, with its 400s and warnings."""
        cannot = f'{resource.kind} in version "v1" cannot be handled as a {resource.kind}'
        try:
            obj = json.loads(body)
        except ValueError as error:
            raise _bad_request(f"{cannot}: {error}") from None
        if not isinstance(obj, dict):
            raise _bad_request(f"{cannot}: the body is not a JSON object")
        if obj.get("kind") not in (None, "", resource.kind) or obj.get("apiVersion") not in (
            None,
            "",
            resource.api_version,
        ):
            raise _bad_request(
                f"{cannot}: expected kind {resource.kind} in {resource.api_version}, got"
                f" {obj.get('kind')} in {obj.get('apiVersion')}"
            )
        warnings = []
        for key in list(obj):
            if key not in resource.fields | {"kind", "apiVersion", "metadata"}:
                warnings.append(f'unknown field "{key}"')
                del obj[key]
        meta = obj.get("metadata") or {}
        if not isinstance(meta, dict):
            raise _bad_request(f"{cannot}: metadata is not an object")
        for key in list(meta):
            if key not in _METADATA_FIELDS:
                warnings.append(f'unknown field "metadata.{key}"')
                del meta[key]
        obj["metadata"] = meta
        for mapping in ("labels", "annotations"):
            _require_string_map(meta.get(mapping), f"{cannot}: metadata.{mapping}")
        if resource.plural == "secrets":
            for mapping in ("data", "stringData"):
                _require_string_map(obj.get(mapping), f"{cannot}: {mapping}")
            data = {}
            for key, value in (obj.get("data") or {}).items():
                # Go decodes []byte with StdEncoding, which skips newlines and needs padding.
                encoded = value.replace("\r", "").replace("\n", "")
                try:
                    data[key] = base64.b64encode(base64.b64decode(encoded, validate=True)).decode()
                except (binascii.Error, ValueError):
                    raise _bad_request(
                        f"{cannot}: illegal base64 data at input byte {_bad_byte(encoded)}"
                    ) from None
            if data:
                obj["data"] = data
            self._merge_string_data(obj)
        if resource.plural == "serviceaccounts":
            for listed in ("imagePullSecrets", "secrets"):
                items = obj.get(listed)
                if items is not None and not (
                    isinstance(items, list) and all(isinstance(item, dict) for item in items)
                ):
                    raise _bad_request(f"{cannot}: {listed} must be a list of objects")
        return obj, warnings


def _require_string_map(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _bad_request(f"{where} must map strings to strings")


def _bad_byte(encoded: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for index, char in enumerate(encoded.rstrip("=")):
        if char not in alphabet:
            return index
    return len(encoded.rstrip("="))


def _prune(obj: dict[str, Any]) -> None:
    """Drop empty fields, as the real server's omitempty serialization does."""
    for container in (obj, obj["metadata"]):
        for key in [k for k, v in container.items() if v is None or v == {} or v == []]:
            if key != "metadata":
                del container[key]
    for key in [k for k, v in obj["metadata"].items() if v == ""]:
        del obj["metadata"][key]


def _without_version(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return obj | {"metadata": meta}


# ---------------------------------------------------------------------------------------------
# Pytest fixtures.


_SERVER = pytest.StashKey[FakeKubeServer]()


@pytest.fixture
def fake_kube(request: pytest.FixtureRequest) -> FakeKubeServer:
    """The session's fake API server, emptied and with every switch off."""
    # Kept on the config rather than in a session fixture so that a conftest may import
    # just this fixture by name; one server per session keeps the suite fast.
    stash = request.config.stash
    if _SERVER not in stash:
        stash[_SERVER] = FakeKubeServer().start()
        request.config.add_cleanup(stash[_SERVER].stop)
    server = stash[_SERVER]
    server.reset()
    return server


@pytest.fixture
def kubeconfig_path(fake_kube: FakeKubeServer, tmp_path: Path) -> Path:
    return fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
