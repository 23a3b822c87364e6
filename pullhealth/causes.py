"""Why a pull failed, read from the message the node reports, in four words everyone shares.

The kubelet puts the container runtime's error into the waiting container's message: for
`ErrImagePull` the error itself, for `ImagePullBackOff` (Kubernetes 1.32 and later)
`Back-off pulling image "<ref>": ErrImagePull: <the same error>`, before that only the back-off
sentence. containerd wraps every error as `failed to pull and unpack image "<ref>": failed to
resolve reference "<ref>": …`; CRI-O (containers/image) and Docker have their own wording. The
patterns below are the endings those runtimes produce.

Some answers do not say whether credentials were sent: a registry that requires a login answers
`unauthorized: authentication required` or `insufficient_scope` both to no credentials and to
credentials it does not accept. For those the caller says whether the pod offered credentials for
the image (it references a pull Secret holding an entry that matches), and the cause follows.
"""

from __future__ import annotations

import re

from django.db import models


class Cause(models.TextChoices):
    # The labels are the words the page uses, the same in the table, the list and Activity.
    CREDENTIALS_REFUSED = "credentials_refused", "credentials refused"
    NO_CREDENTIALS = "no_credentials", "no credentials"
    IMAGE_NOT_FOUND = "image_not_found", "image not found"
    OTHER = "other", "other"


# Shown for an image whose host matches none of the organization's registries.
NO_REGISTRY_MATCHES = "no registry matches"

MESSAGE_MAX_LENGTH = 300

_NOT_FOUND = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r": not found\s*$",  # containerd: `<ref>: not found`
        r"\bmanifest unknown\b",  # CRI-O, Docker: MANIFEST_UNKNOWN
        r"\bname unknown\b",  # NAME_UNKNOWN: the repository does not exist
        r"manifest for \S+ not found",  # Docker
    )
]
_NO_CREDENTIALS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"no basic auth credentials",  # containerd, Docker: nothing to send to a Basic registry
        r"failed to fetch anonymous token",  # containerd: a token registry refused anonymity
    )
]
_REFUSED = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"failed to fetch oauth token: .*\b401\b",  # containerd: the token service said no
        r"invalid username/password",  # CRI-O: unable to retrieve auth token
        r"incorrect username or password",  # Docker Hub
    )
]
# Answers given both without credentials and to credentials without access.
_AUTH_AMBIGUOUS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"insufficient_scope",
        r"pull access denied",
        r"\bunauthorized\b",
        r"\b401 Unauthorized\b",
        r"\b403 Forbidden\b",
        r"\bdenied: ",
        r"requested access to the resource is denied",
        r"authorization failed",
        r"may require authorization",
        r"does not exist or no pull access",
    )
]

_BACK_OFF = re.compile(
    r'^Back-off pulling image "[^"]*"(?::\s*(?:ErrImagePull:\s*)?)?', re.IGNORECASE
)
_RPC = re.compile(r"^rpc error: code = \w+ desc = ")
_CONTAINERD = re.compile(
    r'^failed to pull and unpack image "[^"]*": (?:failed to resolve reference "[^"]*": )?'
)


def is_bare_back_off(message: str) -> bool:
    """A back-off message without the error (clusters before 1.32): it tells no cause, so
    the cause last read for that container still holds."""
    match = _BACK_OFF.match(message.strip())
    return match is not None and not message.strip()[match.end() :]


def classify(message: str, *, credentials_offered: bool) -> Cause:
    """The cause of a failed pull from its waiting message."""
    detail = _detail(message)
    if any(p.search(detail) for p in _NOT_FOUND):
        return Cause.IMAGE_NOT_FOUND
    if any(p.search(detail) for p in _NO_CREDENTIALS):
        return Cause.NO_CREDENTIALS
    if any(p.search(detail) for p in _REFUSED):
        # Only sent credentials get these answers, whoever supplied them.
        return Cause.CREDENTIALS_REFUSED
    if any(p.search(detail) for p in _AUTH_AMBIGUOUS):
        return Cause.CREDENTIALS_REFUSED if credentials_offered else Cause.NO_CREDENTIALS
    return Cause.OTHER


def short_message(message: str, limit: int = MESSAGE_MAX_LENGTH) -> str:
    """The runtime's own words without the wrappers every message repeats, cut to `limit`."""
    detail = " ".join(_detail(message).split())
    if len(detail) <= limit:
        return detail
    cut = detail[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,:;") + "…"


def _detail(message: str) -> str:
    text = (message or "").strip()
    back_off = _BACK_OFF.match(text)
    if back_off and text[back_off.end() :]:
        text = text[back_off.end() :]
    text = _RPC.sub("", text)
    return _CONTAINERD.sub("", text)
