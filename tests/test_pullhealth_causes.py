"""The cause of a failed pull, read from the message a node reports, as containerd, CRI-O and
Docker word it. The messages are whole, as `kubectl get pod -o yaml` shows them."""

from __future__ import annotations

import pytest

from pullhealth.causes import Cause, classify, is_bare_back_off, short_message

REF = "ghcr.io/acme/api:1.4"
HUB_REF = "docker.io/acme/private-app:2"


def containerd(detail: str, ref: str = REF, code: str = "Unknown") -> str:
    return (
        f'rpc error: code = {code} desc = failed to pull and unpack image "{ref}": failed to'
        f' resolve reference "{ref}": {detail}'
    )


def back_off(message: str, ref: str = REF) -> str:
    """The ImagePullBackOff message of Kubernetes 1.32 and later."""
    return f'Back-off pulling image "{ref}": ErrImagePull: {message}'


TOKEN_401 = containerd(
    "failed to authorize: failed to fetch oauth token: unexpected status from GET request to"
    " https://ghcr.io/token?scope=repository%3Aacme%2Fapi%3Apull&service=ghcr.io: 401 Unauthorized"
)
ANONYMOUS_401 = containerd(
    "failed to authorize: failed to fetch anonymous token: unexpected status from GET request to"
    " https://ghcr.io/token?scope=repository%3Aacme%2Fapi%3Apull&service=ghcr.io: 401 Unauthorized"
)
NO_BASIC = containerd(
    "pull access denied, repository does not exist or may require authorization: authorization"
    " failed: no basic auth credentials",
    ref="registry.example.com/team/app:3",
)
BASIC_401 = containerd(
    "unexpected status from HEAD request to"
    " https://registry.example.com/v2/team/app/manifests/3: 401 Unauthorized",
    ref="registry.example.com/team/app:3",
)
HUB_SCOPE = containerd(
    "pull access denied, repository does not exist or may require authorization: server message:"
    " insufficient_scope: authorization failed",
    ref=HUB_REF,
)
NOT_FOUND = containerd(f"{REF}: not found", code="NotFound")
CRIO_AUTH_REQUIRED = (
    "rpc error: code = Unknown desc = reading manifest 1.4 in ghcr.io/acme/api: unauthorized:"
    " authentication required"
)
CRIO_BAD_PASSWORD = (
    "rpc error: code = Unknown desc = unable to retrieve auth token: invalid username/password:"
    " unauthorized: authentication required"
)
CRIO_MANIFEST_UNKNOWN = (
    "rpc error: code = Unknown desc = reading manifest 1.4 in ghcr.io/acme/api: manifest unknown"
)
CRIO_NAME_UNKNOWN = (
    "rpc error: code = Unknown desc = reading manifest 1 in quay.io/acme/agent: name unknown:"
    " repository not found"
)
DOCKER_DENIED = (
    "Error response from daemon: pull access denied for acme/private-app, repository does not"
    " exist or may require 'docker login': denied: requested access to the resource is denied"
)
DOCKER_MANIFEST = (
    "Error response from daemon: manifest for acme/app:9 not found: manifest unknown: manifest"
    " unknown"
)
DOCKER_BAD_PASSWORD = (
    "Error response from daemon: Get https://registry-1.docker.io/v2/: unauthorized: incorrect"
    " username or password"
)
DNS = containerd(
    'failed to do request: Head "https://registry.internal.example/v2/app/manifests/1": dial tcp:'
    " lookup registry.internal.example on 10.96.0.10:53: no such host",
    ref="registry.internal.example/app:1",
)
TLS = containerd(
    'failed to do request: Head "https://registry.example.com/v2/app/manifests/1": tls: failed to'
    " verify certificate: x509: certificate signed by unknown authority",
    ref="registry.example.com/app:1",
)
RATE_LIMITED = containerd(
    "unexpected status from HEAD request to"
    " https://registry-1.docker.io/v2/library/nginx/manifests/1.27: 429 Too Many Requests -"
    " Server message: toomanyrequests: You have reached your unauthenticated pull rate limit.",
    ref="docker.io/library/nginx:1.27",
)


@pytest.mark.parametrize(
    ("message", "offered", "cause"),
    [
        # containerd
        (TOKEN_401, True, Cause.CREDENTIALS_REFUSED),
        (TOKEN_401, False, Cause.CREDENTIALS_REFUSED),  # node credentials were sent and refused
        (ANONYMOUS_401, False, Cause.NO_CREDENTIALS),
        (NO_BASIC, False, Cause.NO_CREDENTIALS),
        (NO_BASIC, True, Cause.NO_CREDENTIALS),  # the entry exists but was not sent
        (BASIC_401, True, Cause.CREDENTIALS_REFUSED),
        (BASIC_401, False, Cause.NO_CREDENTIALS),
        (HUB_SCOPE, True, Cause.CREDENTIALS_REFUSED),
        (HUB_SCOPE, False, Cause.NO_CREDENTIALS),
        (NOT_FOUND, True, Cause.IMAGE_NOT_FOUND),
        (NOT_FOUND, False, Cause.IMAGE_NOT_FOUND),
        # CRI-O (containers/image)
        (CRIO_AUTH_REQUIRED, True, Cause.CREDENTIALS_REFUSED),
        (CRIO_AUTH_REQUIRED, False, Cause.NO_CREDENTIALS),
        (CRIO_BAD_PASSWORD, True, Cause.CREDENTIALS_REFUSED),
        (CRIO_MANIFEST_UNKNOWN, True, Cause.IMAGE_NOT_FOUND),
        (CRIO_NAME_UNKNOWN, False, Cause.IMAGE_NOT_FOUND),
        # Docker Engine (cri-dockerd)
        (DOCKER_DENIED, True, Cause.CREDENTIALS_REFUSED),
        (DOCKER_DENIED, False, Cause.NO_CREDENTIALS),
        (DOCKER_MANIFEST, True, Cause.IMAGE_NOT_FOUND),
        (DOCKER_BAD_PASSWORD, True, Cause.CREDENTIALS_REFUSED),
        # Nothing a credential decides
        (DNS, True, Cause.OTHER),
        (TLS, True, Cause.OTHER),
        (RATE_LIMITED, False, Cause.OTHER),
        (
            "image pull failed for ghcr.io/acme/api:1.4 because the registry is unavailable",
            True,
            Cause.OTHER,
        ),
        ("", True, Cause.OTHER),
    ],
)
def test_the_cause_is_read_from_the_runtime_message(message, offered, cause):
    assert classify(message, credentials_offered=offered) == cause


@pytest.mark.parametrize("message", [TOKEN_401, NO_BASIC, NOT_FOUND, CRIO_MANIFEST_UNKNOWN, DNS])
def test_a_back_off_message_carrying_the_error_reads_like_the_error(message):
    for offered in (True, False):
        assert classify(back_off(message), credentials_offered=offered) == classify(
            message, credentials_offered=offered
        )


def test_the_image_reference_in_the_wrapper_decides_nothing():
    # An image whose name holds words of the patterns is judged on the runtime's own words.
    ref = "registry.example.com/denied/unauthorized-not-found:1"
    message = containerd(
        'failed to do request: Head "https://registry.example.com/v2/": dial tcp 10.0.0.5:443:'
        " connect: connection refused",
        ref=ref,
    )

    assert classify(message, credentials_offered=True) == Cause.OTHER


def test_the_four_causes_read_the_same_everywhere():
    assert [label for _, label in Cause.choices] == [
        "credentials refused",
        "no credentials",
        "image not found",
        "other",
    ]


def test_a_bare_back_off_names_no_cause_and_one_with_the_error_does():
    assert is_bare_back_off(f'Back-off pulling image "{REF}"')
    assert not is_bare_back_off(back_off(TOKEN_401))
    assert not is_bare_back_off(TOKEN_401)


def test_the_short_message_drops_the_wrappers_and_keeps_the_runtime_words():
    assert short_message(back_off(NOT_FOUND)) == f"{REF}: not found"
    assert short_message(CRIO_MANIFEST_UNKNOWN) == (
        "reading manifest 1.4 in ghcr.io/acme/api: manifest unknown"
    )


def test_a_long_message_is_cut_on_a_word_with_an_ellipsis():
    shortened = short_message(TLS + " and more" * 60, limit=120)

    assert len(shortened) <= 120
    assert shortened.endswith("…")
    assert shortened.startswith('failed to do request: Head "https://registry.example.com/v2/')
    assert " and more" not in shortened[-3:]
