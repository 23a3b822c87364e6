"""The address and secret rules shared by the Settings form, the admin and cluster sync."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from registries.validation import (
    DOCKER_HUB_KEY,
    normalize_address,
    parse_id,
    unicode_host,
    validate_secret,
    validate_username,
    without_userinfo,
)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("ghcr.io", "ghcr.io"),
        ("  GHCR.IO  ", "ghcr.io"),
        ("https://ghcr.io/", "ghcr.io"),
        ("https://Registry.Example.com:5000/Team/App/", "registry.example.com:5000/team/app"),
        ("registry.example.com:443", "registry.example.com:443"),
        ("registry.example.com/v2/team", "registry.example.com/team"),
        ("localhost:5000", "localhost:5000"),
        ("localhost", "localhost"),
        ("myregistry:5000", "myregistry:5000"),
        ("10.0.0.5:5000", "10.0.0.5:5000"),
        ("[fd00::1]:5000", "[fd00::1]:5000"),
        ("*.azurecr.io", "*.azurecr.io"),
        ("https://*.azurecr.io/", "*.azurecr.io"),
        ("harbor.example.com.", "harbor.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_typed_addresses_are_stored_as_the_key_the_kubelet_matches(typed, key):
    assert normalize_address(typed).key == key


@pytest.mark.parametrize(
    "typed",
    [
        "docker.io",
        "index.docker.io",
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
        "hub.docker.com",
        "https://registry.hub.docker.com",
    ],
)
def test_docker_hub_spellings_become_the_one_key_matching_docker_hub_images(typed):
    assert normalize_address(typed).key == DOCKER_HUB_KEY


@pytest.mark.parametrize(
    "typed", ["registry-1.docker.io", "hub.docker.com", "https://index.docker.io/v1/"]
)
def test_rewritten_docker_hub_address_tells_the_user_what_was_stored(typed):
    assert "docker.io" in normalize_address(typed).note


def test_canonical_docker_hub_address_needs_no_note():
    assert normalize_address("docker.io").note == ""


def test_docker_hub_keeps_a_namespace_path():
    assert normalize_address("docker.io/mycompany").key == "docker.io/mycompany"


def test_http_scheme_marks_plain_http_without_keeping_the_scheme():
    normalized = normalize_address("http://registry.internal.example:5000")
    assert normalized.plain_http is True
    assert normalized.key == "registry.internal.example:5000"


def test_https_scheme_is_not_plain_http():
    assert normalize_address("https://ghcr.io").plain_http is False


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        ("ghcr .io", "whitespace"),
        ("ghcr.io/\x00app", "whitespace"),
        ("user:pw@ghcr.io", "userinfo"),
        ("https://user@ghcr.io", "userinfo"),
        # Credentials are named before any other mistake in the same address.
        ("user:pw@bad host", "userinfo"),
        ("ftp://user:pw@ghcr.io?x", "userinfo"),
        ("ghcr.io/?x=1", "query"),
        ("ghcr.io#frag", "query"),
        ("https://", "host"),
        ("/team/app", "host"),
        (":5000", "host"),
        ("ghcr.io:0", "port"),
        ("ghcr.io:65536", "port"),
        ("ghcr.io:http", "port"),
        # Digits of other scripts are not port numbers (int() would read some of them).
        ("ghcr.io:\u00b2", "port"),
        ("ghcr.io:\u0665\u0660\u0660\u0660", "port"),
        ("bad_host.example.com", "host"),
        ("-bad.example.com", "host"),
        ("a..b.com", "host"),
        ("ftp://ghcr.io", "scheme"),
        ("myregistry", "single_label"),
        ("*.com", "wildcard"),
        ("a.*.example.com", "wildcard"),
        ("foo*.example.com", "wildcard"),
        ("ghcr.io/Team Name", "whitespace"),
        ("ghcr.io/team//app", "path"),
        ("ghcr.io/te@m", "userinfo"),
        ("ghcr.io/-team", "path"),
        ("http://docker.io", "docker_hub_http"),
        ("docker.io:443", "docker_hub_port"),
        ("[::1", "host"),
        ("[not-ipv6]:5000", "host"),
        ("x" * 300 + ".example.com", "max_length"),
    ],
)
def test_invalid_addresses_are_rejected_with_a_reason(typed, code):
    with pytest.raises(ValidationError) as raised:
        normalize_address(typed)
    assert raised.value.code == code


def test_wildcard_address_is_flagged_as_wildcard():
    assert normalize_address("*.azurecr.io").is_wildcard
    assert not normalize_address("myreg.azurecr.io").is_wildcard


@pytest.mark.parametrize(
    "username", ["robot", "gitlab+deploy-token-12", "org+robot", "_json_key", "a" * 255]
)
def test_real_world_usernames_are_accepted(username):
    validate_username(username)


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("two words", "whitespace"),
        ("tab\tname", "whitespace"),
        ("user:name", "colon"),
        ("a" * 256, "max_length"),
    ],
)
def test_unusable_usernames_are_rejected(username, code):
    with pytest.raises(ValidationError) as raised:
        validate_username(username)
    assert raised.value.code == code


def test_secret_with_inner_whitespace_is_rejected_without_echoing_it():
    with pytest.raises(ValidationError) as raised:
        validate_secret("hunter2 hunter3", label="Password", max_length=100)
    assert raised.value.code == "whitespace"
    assert "hunter" not in " ".join(raised.value.messages)


def test_secret_with_control_characters_is_rejected():
    with pytest.raises(ValidationError) as raised:
        validate_secret("abc\x00def", label="Token", max_length=100)
    assert raised.value.code == "control"


def test_secret_over_its_maximum_length_is_rejected():
    with pytest.raises(ValidationError) as raised:
        validate_secret("x" * 101, label="Token", max_length=100)
    assert raised.value.code == "max_length"


def test_several_kilobyte_token_is_accepted():
    validate_secret("t" * 12_000, label="Token", max_length=16 * 1024)


def test_json_key_with_spaces_is_accepted_where_json_is_allowed():
    json_key = '{"type": "service_account",\n "private_key": "-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----\\n"}'
    validate_secret(json_key, label="Password", max_length=8192, allow_json=True)


def test_text_with_spaces_that_is_not_json_is_rejected_even_where_json_is_allowed():
    with pytest.raises(ValidationError):
        validate_secret("not json at all", label="Password", max_length=8192, allow_json=True)


def test_index_docker_io_note_does_not_claim_it_would_match_nothing():
    note = normalize_address("https://index.docker.io/v1/").note
    assert "would match none" not in note
    assert "docker.io" in note


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("https://bob:Ab3/x@reg.example.com", "https://reg.example.com"),
        ("https://bob:Ab3?x@reg.example.com/team", "https://reg.example.com/team"),
        ("bob:Ab3#x@reg.example.com", "reg.example.com"),
        ("bob:p@ss/w?o#rd@reg.example.com:5000", "reg.example.com:5000"),
        ("https://reg.example.com/team", "https://reg.example.com/team"),
    ],
)
def test_the_whole_userinfo_is_dropped_whatever_the_password_holds(typed, shown):
    assert without_userinfo(typed) == shown
    if typed != shown:
        with pytest.raises(ValidationError) as raised:
            normalize_address(typed)
        assert raised.value.code == "userinfo"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("1", 1),
        ("42", 42),
        ("9223372036854775807", 9223372036854775807),
        ("", None),
        ("\u00b2", None),
        ("\u0661", None),
        ("\uff11", None),
        ("1" * 5000, None),
        ("9223372036854775808", None),
        ("-1", None),
        (" 1", None),
        ("1\n", None),
        ("0x1", None),
    ],
)
def test_ids_are_ascii_digits_of_bounded_size(raw, parsed):
    assert parse_id(raw) == parsed


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        (
            "a" * 70 + ".example.com",
            "is 70 characters long: each part of a host name between dots is at most 63",
        ),
        ("a..b.com", "empty part"),
        ("-bad.example.com", "starts or ends with a hyphen"),
        ("bad_host.example.com", "contains “_”"),
        (
            ".".join(["a" * 62] * 4) + ".com",
            "host names are at most 253",
        ),
    ],
)
def test_invalid_host_names_say_exactly_what_is_wrong(typed, reason):
    with pytest.raises(ValidationError) as raised:
        normalize_address(typed)
    assert reason in raised.value.message


def test_docker_hub_note_speaks_of_the_future_before_saving_and_of_the_past_after():
    normalized = normalize_address("registry-1.docker.io")
    assert normalized.note.startswith("Docker Hub will be stored as “docker.io”")
    assert normalized.saved_note.startswith("Docker Hub was stored as “docker.io”")


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("xn--bcher-kva.example", "bücher.example"),
        ("xn--bcher-kva.example:5000/team", "bücher.example"),
        ("ghcr.io", ""),
        ("xn--invalid-.example", ""),
    ],
)
def test_punycode_hosts_have_a_unicode_form_to_show(address, shown):
    assert unicode_host(address) == shown
