"""What the form tells users about well-known registries: which username they expect, the
long-lived credential that works as BasicAuth where that is not obvious, and which credentials
expire. One table: each registry is named once, for the hint at its address and for the list
in the form's notice."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from .auth_kinds import AuthKind, auth_kinds
from .validation import DOCKER_HUB_KEY, split_key

ECR_HOST_RE = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_GCP_HOST_RE = re.compile(r"^(([a-z]+\.)?gcr\.io|[a-z0-9-]+-docker\.pkg\.dev)$")


@dataclass(frozen=True)
class KnownRegistry:
    hosts: re.Pattern[str]
    # Shown next to Username when the address is this registry's.
    hint: str
    # The line in the form's "Which username does my registry expect?" list.
    line: str


KNOWN_REGISTRIES = [
    KnownRegistry(
        re.compile(rf"^{re.escape(DOCKER_HUB_KEY)}$"),
        "Docker Hub: your Docker Hub account name, with a personal access token.",
        "Docker Hub: your account name, with a personal access token.",
    ),
    KnownRegistry(
        re.compile(r"^ghcr\.io$"),
        "GitHub: your GitHub user name, with a personal access token that can read packages.",
        "GitHub ghcr.io: your GitHub user name.",
    ),
    KnownRegistry(
        re.compile(r"^(registry\.)?gitlab\.[a-z.]+$"),
        "GitLab: a deploy token's username (gitlab+deploy-token-…) with its token, as "
        "BasicAuth. Deploy tokens with the read_registry scope last until the date you give "
        "them, unlike a CI job token.",
        "GitLab: a deploy token (read_registry scope): its username, gitlab+deploy-token-…, "
        "and the token as the password.",
    ),
    KnownRegistry(
        re.compile(r"^quay\.io$"),
        "Quay: the robot account's name (organization+robot) with its token.",
        "Quay robot accounts: organization+robot.",
    ),
    KnownRegistry(
        re.compile(r"^(\*|[a-z0-9-]+)\.azurecr\.io$"),
        "Azure: a service principal's application (client) ID as the username and one of its "
        "client secrets as the password (give it the AcrPull role), or a repository-scoped "
        "token's name and password. An az acr login token lasts three hours.",
        "Azure *.azurecr.io: a service principal's app ID and secret, or a token's name.",
    ),
    KnownRegistry(
        _GCP_HOST_RE,
        "Google Cloud: _json_key as the username with a service account's JSON key file as the "
        "password, or _json_key_base64 with the key file base64-encoded.",
        "Google Artifact Registry and gcr.io: _json_key with a service account's JSON key "
        "(or _json_key_base64 with it base64-encoded).",
    ),
]

GENERAL_ADVICE = [known.line for known in KNOWN_REGISTRIES]


def _host(address_key: str) -> str:
    return split_key(address_key)[0].split(":")[0]


def username_advice(address_key: str) -> str:
    host = _host(address_key)
    for known in KNOWN_REGISTRIES:
        if known.hosts.match(host):
            return known.hint
    return ""


def expiry_warning(address_key: str, username: str, *, kind: AuthKind | None = None) -> str:
    """Why these credentials will stop working, for the well-known short-lived kinds.

    The chosen kind speaks first; then a configured kind that would refresh this address's
    credentials itself (`AuthKind.advice` of the others, with `kind` the chosen one).
    """
    if kind is not None and (said := kind.advice(address_key, username)):
        return said
    for other in auth_kinds():
        if other is not kind and (said := other.advice_for_others(address_key, username)):
            return said
    if kind is not None and not kind.user_expiry:
        # A kind that mints its own logins (Amazon ECR) types no password that could expire.
        return ""
    host = _host(address_key)
    if ECR_HOST_RE.match(host):
        return (
            "Amazon ECR passwords (from aws ecr get-login-password) expire after 12 hours, and the "
            "platform does not refresh them: pulls will fail after that."
        )
    if username == "oauth2accesstoken":
        return (
            "oauth2accesstoken logins use a Google access token that expires after about an hour. "
            "Use _json_key with a service account key instead."
        )
    return ""


PAST_EXPIRY_WARNING = "This date is in the past: the row will show it as expired."


def past_expiry_warning(expires_on: datetime.date | None, *, today: datetime.date) -> str:
    """An "Expires on" date already gone is kept (an expired credential may be recorded on
    purpose), but said before the row says it."""
    if expires_on is not None and expires_on < today:
        return PAST_EXPIRY_WARNING
    return ""
