"""Amazon ECR: a registry login minted from AWS keys, valid for 12 hours, refreshed by us.

The kind keeps the access key ID, region and role in `registry.options`, the secret access key
in `registry.secrets` (encrypted), the minted token in `registry.issued_login` (encrypted) with
its expiry in `issued_expires_at`, and the refresh schedule and failures in `kind_state`.
registries/ecr_refresh.py runs the refreshes.

This is the only module that imports boto3 (tests/test_layers.py holds it to that), and only
when a token is minted, so processes that never mint do not load the SDK. Clients are built
the standard boto3 way, so its configuration applies: `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_ECR` / `_STS`) points them at a VPC endpoint, or at moto in tests; the
access key given in the form always wins over any credentials in the environment.

Error messages are built from AWS error codes, never from exception text, so that nothing a
request carried (the access key, the minted token) can reach a page, a log or the trail.
"""

from __future__ import annotations

import base64
import datetime
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone

from ..validation import split_key
from .base import AuthKind, Expiry, Login, LoginUnavailable, secret_field

if TYPE_CHECKING:
    from ..models import ContainerRegistry

ECR_USERNAME = "AWS"
# What AWS documents for GetAuthorizationToken; used when the reported expiry is not usable.
TOKEN_LIFETIME = datetime.timedelta(hours=12)
ROLE_SESSION_NAME = "orgsettings-ecr"
HOST_RE = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])"
    r"\.amazonaws\.com(?:\.cn)?$"
)
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
ACCESS_KEY_ID_RE = re.compile(r"^[A-Z0-9]{16,128}$")

_ERROR_WORDS = {
    "AccessDenied": "access denied",
    "AccessDeniedException": "access denied",
    "UnrecognizedClientException": "the access key ID is not valid",
    "InvalidClientTokenId": "the access key ID is not valid",
    "SignatureDoesNotMatch": "the secret access key does not match the access key ID",
    "InvalidSignatureException": "the secret access key does not match the access key ID",
    "ExpiredToken": "the AWS credentials have expired",
    "ExpiredTokenException": "the AWS credentials have expired",
    "RegionDisabledException": "STS is not enabled in this region",
    "ThrottlingException": "AWS is throttling requests",
}
# Worth retrying soon: the same request may work in a moment.
_TRANSIENT_CODES = {
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestLimitExceeded",
}


@dataclass(frozen=True)
class Minted:
    """A fresh ECR login. `expires_at` is AWS's, unless that is not after `minted_at`."""

    username: str
    secret: str
    minted_at: datetime.datetime
    expires_at: datetime.datetime

    def __repr__(self) -> str:
        return f"<Minted {self.username} expires {self.expires_at.isoformat()}>"

    @property
    def refresh_at(self) -> datetime.datetime:
        return refresh_time(self.minted_at, self.expires_at)


class MintError(Exception):
    """Minting failed; `message` is safe to show (it names the cause, never a credential)."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retriable = retriable


def parse_host(host: str) -> tuple[str, str] | None:
    """(account, region) of an ECR registry host, or None for any other host."""
    match = HOST_RE.match(host)
    return (match["account"], match["region"]) if match else None


def token_expiry(reported: datetime.datetime | None, *, minted_at: datetime.datetime):
    """When the token stops working.

    AWS reports it (12 hours after minting). A reported time that is not after the mint time
    cannot be right (moto, for one, reports a fixed date in 2015), and scheduling from it would
    refresh in a loop: then the documented 12-hour lifetime from the mint time is used.
    """
    if reported is None or reported <= minted_at:
        return minted_at + TOKEN_LIFETIME
    return reported


def refresh_time(minted_at: datetime.datetime, expires_at: datetime.datetime):
    """Half-way through the token's life (6 hours for ECR's 12), so a failing refresh has
    the other half to be retried before pulls fail."""
    return minted_at + (expires_at - minted_at) / 2


def mint(
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    role_arn: str = "",
    now: datetime.datetime,
) -> Minted:
    """`ecr.get_authorization_token` with these keys (via `sts.assume_role` when a role is
    given). `now` is the mint time the schedule counts from. Raises MintError."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2})
    try:
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        if role_arn:
            assumed = session.client("sts", config=config).assume_role(
                RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME
            )["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=assumed["AccessKeyId"],
                aws_secret_access_key=assumed["SecretAccessKey"],
                aws_session_token=assumed["SessionToken"],
                region_name=region,
            )
        answer = session.client("ecr", config=config).get_authorization_token()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code not in _ERROR_WORDS and status == 403:
            code = "AccessDenied"  # some endpoints answer a bare 403
        words = _ERROR_WORDS.get(code) or (
            f"AWS refused the request ({code})" if code else "AWS refused the request"
        )
        step = "assuming the role" if role_arn and error.operation_name == "AssumeRole" else ""
        raise MintError(
            f"{words} ({step})" if step else words,
            retriable=code in _TRANSIENT_CODES or code not in _ERROR_WORDS,
        ) from None
    except BotoCoreError as error:
        # Class names only: botocore's texts can quote the endpoint, never a key, but say less.
        raise MintError(f"cannot reach AWS ({type(error).__name__})") from None
    try:
        data = answer["authorizationData"][0]
        username, _, secret = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        raise MintError("AWS answered without an authorization token") from None
    if not secret:
        raise MintError("AWS answered without an authorization token")
    return Minted(
        username=username or ECR_USERNAME,
        secret=secret,
        minted_at=now,
        expires_at=token_expiry(data.get("expiresAt"), minted_at=now),
    )


# --- the kind ----------------------------------------------------------------------------------

# kind_state's mark for "the keys changed since this token was minted".
REMINT = "remint"
CREDENTIAL_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_region", "aws_role_arn")
SECRET_ACCESS_KEY_MAX_LENGTH = 1024
ADDRESS_MESSAGE = (
    "Amazon ECR needs the registry host, <account>.dkr.ecr.<region>.amazonaws.com, for "
    "example 123456789012.dkr.ecr.eu-west-1.amazonaws.com."
)


def _text_field(label: str, *, max_length: int, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        help_text=help_text,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )


def _parse_time(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def in_words(delta: datetime.timedelta) -> str:
    """A duration the way the row says it: "3 h", "25 min", "2 days"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    if minutes < 48 * 60 - 30:
        return f"{round(minutes / 60)} h"
    return f"{round(minutes / (24 * 60))} days"


class AmazonECR(AuthKind):
    value = "ECR"
    label = "Amazon ECR"
    caption = (
        "Amazon ECR: AWS access keys. The platform mints a registry token (valid 12 hours) and "
        "refreshes it every 6 hours."
    )
    username = None
    user_expiry = False
    secret_fields = ("aws_secret_access_key",)
    missing_secret = "Amazon ECR needs the AWS secret access key."

    def form_fields(self) -> dict[str, forms.Field]:
        return {
            "aws_access_key_id": _text_field(
                "AWS Access Key ID",
                max_length=128,
                help_text="Of an IAM user allowed ecr:GetAuthorizationToken (and to pull).",
            ),
            "aws_secret_access_key": secret_field(
                "AWS Secret Access Key", max_length=SECRET_ACCESS_KEY_MAX_LENGTH
            ),
            "aws_region": _text_field(
                "AWS Region", max_length=32, help_text="Filled in from the address."
            ),
            "aws_role_arn": _text_field(
                "Role ARN to assume",
                max_length=2048,
                help_text="Optional: the token is minted as this role (sts:AssumeRole).",
            ),
        }

    def clean(self, form: forms.Form, *, keeps_stored_secret: bool) -> None:
        data = form.cleaned_data
        address = data.get("address")
        parsed = None
        if address:
            host = split_key(address)[0]
            parsed = parse_host(host)
            normalized = getattr(form, "normalized_address", None)
            if parsed is None or (normalized is not None and normalized.plain_http):
                form.add_error("address", forms.ValidationError(ADDRESS_MESSAGE, code="ecr_host"))
                parsed = None
        region = (data.get("aws_region") or "").strip().lower()
        if parsed is not None:
            if region and region != parsed[1]:
                form.add_error(
                    "aws_region",
                    forms.ValidationError(
                        f"The address is in {parsed[1]}: leave AWS Region empty to use it.",
                        code="region_mismatch",
                    ),
                )
            region = parsed[1]
        data["aws_region"] = region
        key_id = (data.get("aws_access_key_id") or "").strip()
        data["aws_access_key_id"] = key_id
        if "aws_access_key_id" in data and not ACCESS_KEY_ID_RE.match(key_id):
            if not key_id:
                said = "Enter the AWS access key ID (20 capital letters and digits, AKIA…)."
            elif ACCESS_KEY_ID_RE.match(key_id.ljust(16, "A")):
                said = (
                    f"This key ID has {len(key_id)} characters: AWS access key IDs have 20, "
                    "like AKIAIOSFODNN7EXAMPLE. Paste the whole ID."
                )
            else:
                said = (
                    "AWS access key IDs are capital letters and digits, like AKIAIOSFODNN7EXAMPLE."
                )
            form.add_error(
                "aws_access_key_id",
                forms.ValidationError(said, code="invalid" if key_id else "required"),
            )
        role_arn = (data.get("aws_role_arn") or "").strip()
        data["aws_role_arn"] = role_arn
        if role_arn and not ROLE_ARN_RE.match(role_arn):
            form.add_error(
                "aws_role_arn",
                forms.ValidationError(
                    "Enter a role ARN, like arn:aws:iam::123456789012:role/ecr-pull, or leave "
                    "it empty.",
                    code="invalid",
                ),
            )
        self.clean_secret(form, "aws_secret_access_key", required=not keeps_stored_secret)

    def advice_for_others(self, address_key: str, username: str) -> str:
        """An ECR password typed as BasicAuth (from aws ecr get-login-password) lasts 12 hours."""
        if parse_host(split_key(address_key)[0]) is None:
            return ""
        return "This password expires in 12 hours; use Amazon ECR to have it refreshed."

    def store(self, registry: ContainerRegistry, values: dict[str, Any]) -> None:
        """As every kind stores, except that the minted token stays: with its schedule when the
        AWS credentials are the same (an edit of the Display Name mints nothing), marked to be
        minted again at once when they changed."""
        same_kind = registry.pk is not None and registry.auth_type == self.value
        before = self.credentials(registry) if same_kind else None
        issued, expires_at, state = (
            registry.issued_login,
            registry.issued_expires_at,
            registry.kind_state,
        )
        super().store(registry, values)
        if before is None or not issued:
            return
        registry.issued_login, registry.issued_expires_at = issued, expires_at
        if self.credentials(registry) == before:
            registry.kind_state = state
        else:
            # New keys: a token is minted with them at once (registries/ecr_refresh.py), and
            # until then the one minted before keeps the pulls working until it expires.
            registry.kind_state = {REMINT: True}

    def credentials(self, registry: ContainerRegistry) -> tuple:
        return tuple(self.read(registry, name) for name in CREDENTIAL_FIELDS)

    def login(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Login:
        """The last minted token (the username "AWS"); an empty secret before the first."""
        return registry.issued() or Login(ECR_USERNAME, "", None)

    def login_to_test(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Login:
        """A fresh token, minted with the typed keys: the test checks the keys, not the past.
        Raises LoginUnavailable, with why AWS gave none."""
        try:
            minted = self.mint(registry, now=now)
        except MintError as error:
            raise LoginUnavailable(
                f"AWS gave no registry token: {error.message}. The registry was not contacted.",
                outcome="unreachable" if error.retriable else "unauthorized",
                title="No token from AWS" if error.retriable else "",
            ) from None
        return Login(minted.username, minted.secret, minted.expires_at)

    def mint(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Minted:
        key_id, secret, region, role_arn = self.credentials(registry)
        if not region:
            # Saved without the form (a script, a data migration): the address names it.
            region = (parse_host(split_key(registry.address)[0]) or ("", ""))[1]
        if not secret:
            raise MintError(
                "the AWS secret access key is missing or cannot be decrypted", retriable=False
            )
        return mint(
            access_key_id=key_id,
            secret_access_key=secret,
            region=region,
            role_arn=role_arn,
            now=now,
        )

    def describe_stored(self, registry: ContainerRegistry) -> str:
        return "An AWS secret access key and the token minted with it are stored (never shown)."

    # --- the refresh schedule, kept in kind_state ---------------------------------------

    def needs_mint(self, registry: ContainerRegistry) -> bool:
        """No token yet, or one minted with keys that were changed since."""
        return not registry.issued_login or bool((registry.kind_state or {}).get(REMINT))

    def refresh_at(self, registry: ContainerRegistry) -> datetime.datetime | None:
        return _parse_time((registry.kind_state or {}).get("refresh_at"))

    def refresh_error(self, registry: ContainerRegistry) -> str:
        return (registry.kind_state or {}).get("refresh_error", "")

    def failing_since(self, registry: ContainerRegistry) -> datetime.datetime | None:
        return _parse_time((registry.kind_state or {}).get("failing_since"))

    def expiry(self, registry: ContainerRegistry, *, now: datetime.datetime) -> Expiry | None:
        """Said (and counted by the reconciler) only when a refresh is failing: "token expires
        in 3 h; refresh failed: access denied". A token that is refreshed on time is the
        row's note instead (`row_notes`)."""
        error = self.refresh_error(registry)
        if not error:
            return None
        expires_at = registry.issued_expires_at
        if expires_at is None:
            return Expiry("expired", f"no token; minting failed: {error}")
        if expires_at <= now:
            return Expiry(
                "expired",
                f"token expired {in_words(now - expires_at)} ago; refresh failed: {error}",
            )
        return Expiry(
            "soon", f"token expires in {in_words(expires_at - now)}; refresh failed: {error}"
        )

    def row_notes(self, registry: ContainerRegistry, *, now: datetime.datetime) -> list[str]:
        """When the token expires and when it is refreshed: "token expires in 11 h; next refresh
        in 5 h" (nothing while a refresh is failing: `expiry` says that)."""
        if self.refresh_error(registry):
            return []
        expires_at = registry.issued_expires_at
        if expires_at is None:
            return ["no token yet; minting one"]
        if expires_at <= now:
            return [f"token expired {in_words(now - expires_at)} ago; refreshing now"]
        first = f"token expires in {in_words(expires_at - now)}"
        refresh_at = self.refresh_at(registry)
        if refresh_at is None or refresh_at <= now:
            return [f"{first}; refreshing now"]
        return [f"{first}; next refresh in {in_words(refresh_at - now)}"]

    def minted_state(self, minted: Minted) -> dict:
        """The kind_state kept with a fresh token: its schedule, and no failure."""
        return {
            "minted_at": minted.minted_at.isoformat(),
            "refresh_at": minted.refresh_at.isoformat(),
        }

    def record_failure(self, registry: ContainerRegistry, message: str, *, now) -> bool:
        """Note a failed refresh on `registry` (not saved); True when it starts a streak."""
        state = dict(registry.kind_state or {})
        first = not state.get("failing_since")
        if first:
            state["failing_since"] = (now or timezone.now()).isoformat()
        state["refresh_error"] = message
        registry.kind_state = state
        return first
