"""What the form tells users about well-known registries: which username they expect, and which
credentials expire (the platform stores credentials as given and never refreshes them)."""

from __future__ import annotations

import re

from .validation import DOCKER_HUB_KEY, split_key

_ECR_HOST_RE = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_GCP_HOST_RE = re.compile(r"^(([a-z]+\.)?gcr\.io|[a-z0-9-]+-docker\.pkg\.dev)$")

# (matches host, advice) — shown next to Username; the first match wins.
_USERNAME_ADVICE: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(rf"^{re.escape(DOCKER_HUB_KEY)}$"),
        "Docker Hub: your Docker Hub account name, with a personal access token.",
    ),
    (
        re.compile(r"^ghcr\.io$"),
        "GitHub: your GitHub user name, with a personal access token that can read packages.",
    ),
    (
        re.compile(r"^(registry\.)?gitlab\.[a-z.]+$"),
        "GitLab: a deploy token's username (gitlab+deploy-token-…) with its token.",
    ),
    (
        re.compile(r"^quay\.io$"),
        "Quay: the robot account's name (organization+robot) with its token.",
    ),
    (
        re.compile(r"^(\*|[a-z0-9-]+)\.azurecr\.io$"),
        "Azure: the repository-scoped token's name, or a service principal's ID.",
    ),
    (_GCP_HOST_RE, "Google Cloud: _json_key with a service account's JSON key as the password."),
]

GENERAL_ADVICE = [
    "Docker Hub: your account name, with a personal access token.",
    "GitHub ghcr.io: your GitHub user name.",
    "GitLab deploy tokens: the token's username (gitlab+deploy-token-…).",
    "Quay robot accounts: organization+robot.",
    "Azure *.azurecr.io: the token name or service principal ID.",
]


def username_advice(address_key: str) -> str:
    host = split_key(address_key)[0].split(":")[0]
    for pattern, advice in _USERNAME_ADVICE:
        if pattern.match(host):
            return advice
    return ""


def expiry_warning(address_key: str, username: str) -> str:
    """Why these credentials will stop working, for the well-known short-lived kinds."""
    host = split_key(address_key)[0].split(":")[0]
    if _ECR_HOST_RE.match(host):
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
