"""The product's keyring picks the Secret entries a node tries for an image, as the kubelet does.

Each case is checked twice: against the expected answer, and against tests/keyring.py (the
kubelet's rules restated independently for the tests) reading the very Secret that
dockerconfig builds from the same stored addresses. Pull health and the Secret so agree on which
registry an image is pulled with.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from delivery.dockerconfig import build_config, entries_for
from registries.keyring import key_matches, matching_keys, normalize_image, parse_image
from registries.validation import normalize_address

from . import keyring as kubelet


@dataclass
class Login:
    address: str
    login_username: str = "robot"
    login_secret: str = "s3cret"


@pytest.mark.parametrize(
    ("reference", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io/library/nginx", "", ""),
        ("nginx:1.27", "docker.io/library/nginx", "1.27", ""),
        ("acme/app", "docker.io/acme/app", "", ""),
        ("docker.io/nginx", "docker.io/library/nginx", "", ""),
        ("index.docker.io/acme/app:v2", "docker.io/acme/app", "v2", ""),
        ("ghcr.io/acme/api:1.4", "ghcr.io/acme/api", "1.4", ""),
        ("localhost/app", "localhost/app", "", ""),
        ("localhost:5000/team/app:dev", "localhost:5000/team/app", "dev", ""),
        ("registry.example.com:5000/app", "registry.example.com:5000/app", "", ""),
        ("Registry/app", "Registry/app", "", ""),  # upper case: a host, as the runtimes read it
        (
            "quay.io/acme/agent@sha256:" + "a" * 64,
            "quay.io/acme/agent",
            "",
            "sha256:" + "a" * 64,
        ),
        (
            "ghcr.io/acme/api:1.4@sha256:" + "b" * 64,
            "ghcr.io/acme/api",
            "1.4",
            "sha256:" + "b" * 64,
        ),
        ("[::1]:5000/app", "[::1]:5000/app", "", ""),
    ],
)
def test_image_references_are_normalized_like_the_runtimes_do(reference, repository, tag, digest):
    image = parse_image(reference)

    assert image is not None
    assert (image.repository, image.tag, image.digest) == (repository, tag, digest)


@pytest.mark.parametrize("reference", ["", "  ", "ghcr.io/Acme/api", "nginx latest", "ghcr.io/"])
def test_what_is_not_an_image_reference_parses_to_none(reference):
    assert parse_image(reference) is None
    assert normalize_image(reference) is None
    assert matching_keys(["ghcr.io", "docker.io"], reference) == []


MATCHING = [
    ("ghcr.io", "ghcr.io/acme/app:1.0"),
    ("https://GHCR.io/", "ghcr.io/acme/app"),
    ("docker.io", "nginx"),
    ("docker.io", "acme/private-app:latest"),
    ("docker.io", "index.docker.io/acme/private-app"),
    ("https://index.docker.io/v1/", "acme/private-app"),
    ("registry-1.docker.io", "acme/private-app"),
    ("hub.docker.com", "docker.io/acme/private-app"),
    ("docker.io/acme", "acme/private-app"),
    ("registry.example.com:5000", "registry.example.com:5000/team/app"),
    ("http://registry.example.com:5000", "registry.example.com:5000/team/app"),
    ("registry.example.com/team", "registry.example.com/team/app"),
    # The kubelet compares paths as strings, so a key's path also covers longer names.
    ("registry.example.com/team", "registry.example.com/teammates/app"),
    ("*.azurecr.io", "acme.azurecr.io/app"),
    ("*.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api"),
    ("localhost:5000", "localhost:5000/app"),
]
NOT_MATCHING = [
    ("registry.example.com:5000", "registry.example.com/team/app"),
    ("registry.example.com", "registry.example.com:5000/team/app"),
    ("registry.example.com/team", "registry.example.com/other/app"),
    ("*.azurecr.io", "a.b.azurecr.io/app"),
    ("*.azurecr.io", "azurecr.io/app"),
    ("ghcr.io", "nginx"),
    ("docker.io", "ghcr.io/acme/app"),
    ("docker.io/acme", "nginx"),
    ("quay.io", "quay.io.evil.example/acme/app"),
]


@pytest.mark.parametrize(("typed_address", "image"), MATCHING)
def test_a_stored_address_matches_the_images_pulled_with_it(typed_address, image):
    key = normalize_address(typed_address).key
    config = build_config([Login(key)])

    assert matching_keys([key], image) == [key]
    assert [entry for _, entry in entries_for(config, image)] == kubelet.credentials_for(
        config, image
    )


@pytest.mark.parametrize(("typed_address", "image"), NOT_MATCHING)
def test_a_stored_address_does_not_match_other_registries_images(typed_address, image):
    key = normalize_address(typed_address).key
    config = build_config([Login(key)])

    assert matching_keys([key], image) == []
    assert entries_for(config, image) == []
    assert kubelet.credentials_for(config, image) == []


def test_raw_docker_hub_hosts_match_nothing_and_index_docker_io_is_the_fallback():
    image = parse_image("acme/private-app")

    assert not key_matches("registry-1.docker.io", image)
    assert not key_matches("hub.docker.com", image)
    assert matching_keys(["registry-1.docker.io", "https://index.docker.io/v1/"], image) == [
        "https://index.docker.io/v1/"
    ]
    assert matching_keys(["docker.io", "index.docker.io"], image) == ["docker.io"]


def test_the_index_docker_io_fallback_is_only_for_docker_hub_images():
    assert matching_keys(["index.docker.io"], "ghcr.io/acme/app") == []


@pytest.mark.parametrize(
    ("keys", "image", "order"),
    [
        (
            ["registry.example.com", "registry.example.com/team"],
            "registry.example.com/team/app",
            ["registry.example.com/team", "registry.example.com"],
        ),
        (
            ["*.azurecr.io", "acme.azurecr.io"],
            "acme.azurecr.io/app",
            ["acme.azurecr.io", "*.azurecr.io"],
        ),
        (
            ["docker.io", "docker.io/acme", "docker.io/acme/private-app"],
            "acme/private-app:2",
            ["docker.io/acme/private-app", "docker.io/acme", "docker.io"],
        ),
    ],
)
def test_the_most_specific_key_comes_first_and_all_matches_are_kept(keys, image, order):
    config = build_config([Login(key, login_secret=f"pw-{key}") for key in keys])

    assert matching_keys(keys, image) == order
    assert [key for key, _ in entries_for(config, image)] == order
    assert [entry["password"] for entry in kubelet.credentials_for(config, image)] == [
        f"pw-{key}" for key in order
    ]
