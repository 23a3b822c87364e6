"""AWS for the suite: moto's server on loopback, reached the way production reaches AWS.

One ThreadedMotoServer per session on 127.0.0.1 (an ephemeral port); the `aws` fixture points
boto3's standard configuration at it (`AWS_ENDPOINT_URL`) and empties the shared config and
credential files, so only the keys a registry holds are ever used. Its state is reset after
each test. `aws.deny_all()` makes it check requests the way IAM does: keys of a user with no
policy are refused ECR's GetAuthorizationToken with AccessDenied.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import pytest

ACCOUNT = "123456789012"
REGION = "eu-west-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz-secret-key-never-shown"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ecr-pull"


@dataclass
class MotoAWS:
    endpoint: str

    def _post(self, path: str, body: bytes = b"") -> dict:
        request = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read() or b"{}")

    def reset(self) -> None:
        self._post("/moto-api/reset")
        self._post("/moto-api/reset-auth", b"inf")

    def keys_without_permissions(self) -> tuple[str, str]:
        """An IAM user's access key that may do nothing (created while IAM is not checked)."""
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIAADMINADMINADMIN0",
            aws_secret_access_key="admin",
        )
        iam.create_user(UserName="no-permissions")
        key = iam.create_access_key(UserName="no-permissions")["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def deny_all(self) -> None:
        """From now on requests are checked against IAM policies (none: everything is denied)."""
        self._post("/moto-api/reset-auth", b"0")


def _distinct_tokens() -> None:
    """moto answers every GetAuthorizationToken with the same token; AWS mints a new one each
    time, which is what tells a refreshed Secret from a stale one. Number moto's."""
    import base64
    import itertools

    from moto.ecr.responses import ECRResponse

    original = ECRResponse.get_authorization_token
    counter = itertools.count(1)

    def numbered(self):
        result = original(self)
        for data in result.result["authorizationData"]:
            user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
            fresh = f"{user}:{password}-{next(counter)}".encode()
            data["authorizationToken"] = base64.b64encode(fresh).decode()
        return result

    ECRResponse.get_authorization_token = numbered


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    _distinct_tokens()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch, tmp_path) -> MotoAWS:
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    moto = MotoAWS(moto_server)
    yield moto
    moto.reset()


def ecr_registry(organization, *, display_name: str = "ECR", **values):
    """A saved Amazon ECR registry holding these AWS credentials (moto's account by default),
    stored through the kind as a save from the form stores them."""
    from registries.models import ContainerRegistry

    registry = ContainerRegistry(
        organization=organization, display_name=display_name, address=HOST, auth_type="ECR"
    )
    registry.kind.store(
        registry,
        {
            "aws_access_key_id": ACCESS_KEY_ID,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
            "aws_region": REGION,
            "aws_role_arn": "",
            **values,
        },
    )
    registry.full_clean()
    registry.save()
    return registry
