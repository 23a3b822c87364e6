"""The Secret content: the entries and the kubelet's reading of them for the user's images."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pytest

from delivery.dockerconfig import build_config, decode_config, encode_config
from registries.validation import normalize_address

from .keyring import credentials_for, normalize_image


@dataclass
class Login:
    address: str
    login_username: str = "robot"
    login_secret: str = "s3cret"


def config_for(*typed_addresses: str) -> dict:
    return build_config(
        Login(normalize_address(a).key, login_username=a, login_secret=f"pw-{a}")
        for a in typed_addresses
    )


def test_entry_has_username_password_and_auth():
    config = build_config([Login("ghcr.io", "octocat", "ghp_x")])
    entry = config["auths"]["ghcr.io"]
    assert entry == {
        "username": "octocat",
        "password": "ghp_x",
        "auth": base64.b64encode(b"octocat:ghp_x").decode(),
    }


def test_no_registries_gives_empty_auths():
    assert build_config([]) == {"auths": {}}


def test_encoding_is_stable_and_round_trips():
    config = build_config([Login("b.example.com"), Login("a.example.com")])
    assert encode_config(config) == encode_config(json.loads(json.dumps(config)))
    assert decode_config(encode_config(config)) == config


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1]").decode(),
    ],
)
def test_decoding_something_that_is_not_a_config_gives_none(value):
    assert decode_config(value) is None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx"),
        ("me/app", "docker.io/me/app"),
        ("ghcr.io/me/app:v1", "ghcr.io/me/app"),
        ("localhost:5000/app", "localhost:5000/app"),
    ],
)
def test_image_names_are_normalized_like_the_kubelet_does(image, expected):
    assert normalize_image(image) == expected


@pytest.mark.parametrize(
    ("typed_address", "image"),
    [
        ("ghcr.io", "ghcr.io/acme/app:1.0"),
        ("https://GHCR.io/", "ghcr.io/acme/app"),
        ("docker.io", "nginx"),
        ("docker.io", "acme/private-app:latest"),
        ("https://index.docker.io/v1/", "acme/private-app"),
        ("registry-1.docker.io", "acme/private-app"),
        ("hub.docker.com", "docker.io/acme/private-app"),
        ("registry.example.com:5000", "registry.example.com:5000/team/app"),
        ("http://registry.example.com:5000", "registry.example.com:5000/team/app"),
        ("registry.example.com/team", "registry.example.com/team/app"),
        ("*.azurecr.io", "acme.azurecr.io/app"),
        ("localhost:5000", "localhost:5000/app"),
    ],
)
def test_stored_address_matches_the_images_users_pull(typed_address, image):
    config = config_for(typed_address)
    assert credentials_for(config, image), f"{typed_address} does not match {image}"


@pytest.mark.parametrize(
    ("typed_address", "image"),
    [
        ("registry.example.com:5000", "registry.example.com/team/app"),
        ("registry.example.com/team", "registry.example.com/other/app"),
        ("*.azurecr.io", "a.b.azurecr.io/app"),
        ("*.azurecr.io", "azurecr.io/app"),
        ("ghcr.io", "nginx"),
    ],
)
def test_stored_address_does_not_match_other_registries_images(typed_address, image):
    assert not credentials_for(config_for(typed_address), image)


def test_raw_docker_hub_hosts_would_match_nothing_which_is_why_they_are_rewritten():
    raw = build_config([Login("registry-1.docker.io"), Login("hub.docker.com")])
    assert not credentials_for(raw, "acme/private-app")


def test_most_specific_entry_is_tried_first():
    config = build_config(
        [
            Login("registry.example.com", login_secret="general"),
            Login("registry.example.com/team", login_secret="team"),
        ]
    )
    assert [e["password"] for e in credentials_for(config, "registry.example.com/team/app")] == [
        "team",
        "general",
    ]


def test_token_travels_as_the_password_of_a_login():
    config = build_config(
        [Login("registry.gitlab.com", login_username="token", login_secret="glpat-123")]
    )
    entry = credentials_for(config, "registry.gitlab.com/group/app")[0]
    assert (entry["username"], entry["password"]) == ("token", "glpat-123")
    assert "identitytoken" not in entry
