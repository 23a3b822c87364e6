"""Stored credentials at rest: key fallbacks, rotation, and what a credential no key reads does.

Keys here are the operator's: CRYPTOGRAPHY_KEY encrypts, CRYPTOGRAPHY_KEY_FALLBACKS also decrypt.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from delivery.models import Cluster
from registries import connection_test, encryption, rotation
from registries.models import ContainerRegistry

from .deliveries import run_tasks
from .factories import RegistryFactory
from .test_delivery import secret_config
from .test_settings import PRODUCTION, manage

pytestmark = pytest.mark.django_db

OLD_KEY = "old-key-of-the-stored-credentials-0123456789abcdef"
NEW_KEY = "new-key-of-the-stored-credentials-fedcba9876543210"
SECRET = "Stored-Passw0rd-7f3a"
# Written by django-cryptography-5 2.0.3 (the field this one replaced) with the suite's
# SECRET_KEY and CRYPTOGRAPHY_KEY: "legacy-Passw0rd-stored-before".
LEGACY_CIPHERTEXT = bytes.fromhex(
    "80000000006b0f3fb03f5ec679741ac11ad39c99b261d1508231d60a3d318b32b488a484f5694f70662fff7a"
    "d98166d65e4bb6d9e9b517b35bcc1cada61a34fbc2e58022579f9d2373c86055a2537bd943aa51d91f6478f2"
    "8a777d92455d9b1dd64d77815de84f90aa"
)


def raw(registry, column: str = "password") -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM registries_containerregistry WHERE id = %s", [registry.pk]
        )
        return bytes(cursor.fetchone()[0])


def write_raw(registry, value: bytes, column: str = "password") -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE registries_containerregistry SET {column} = %s WHERE id = %s",
            [value, registry.pk],
        )


def stored(settings, key: str, **fields) -> ContainerRegistry:
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = key, []
    return RegistryFactory(password=SECRET, **fields)


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


# Keys and fallbacks


def test_stored_secrets_are_fernet_tokens_without_the_plaintext(settings):
    registry = stored(settings, OLD_KEY)
    assert raw(registry).startswith(b"gAAAAA")
    assert SECRET.encode() not in raw(registry)


def test_a_fallback_key_still_decrypts_and_the_current_one_encrypts(settings):
    registry = stored(settings, OLD_KEY)
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    assert ContainerRegistry.objects.get(pk=registry.pk).password == SECRET
    written = RegistryFactory(organization=registry.organization, password="Written-Now-42")
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    assert ContainerRegistry.objects.get(pk=written.pk).password == "Written-Now-42"


def test_fallbacks_can_be_given_comma_separated(settings):
    registry = stored(settings, OLD_KEY)
    settings.CREDENTIALS_KEY = NEW_KEY
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = f"unrelated-key-{'x' * 40}, {OLD_KEY}"
    assert ContainerRegistry.objects.get(pk=registry.pk).password == SECRET


def test_credentials_written_by_the_previous_field_are_still_read():
    registry = RegistryFactory()
    write_raw(registry, LEGACY_CIPHERTEXT)
    assert ContainerRegistry.objects.get(pk=registry.pk).password == "legacy-Passw0rd-stored-before"


def test_rotating_only_secret_key_keeps_credentials_readable(settings):
    registry = RegistryFactory(password=SECRET)
    settings.SECRET_KEY = "a-brand-new-signing-key-" + "z" * 40
    assert ContainerRegistry.objects.get(pk=registry.pk).password == SECRET


# A credential no key reads


@pytest.fixture
def unreadable(settings, organization, owner):
    registry = stored(settings, OLD_KEY, organization=organization, display_name="Harbor")
    settings.CREDENTIALS_KEY = NEW_KEY
    return registry


def test_list_marks_the_row_whose_key_was_removed(client, owner, unreadable):
    RegistryFactory(organization=unreadable.organization, display_name="Readable")
    client.force_login(owner)
    response = client.get(reverse("registries:list", kwargs={"slug": "acme"}))
    assert response.status_code == 200
    rows = {
        name: row
        for row in response.text.split('<tbody id="registry-')[1:]
        for name in ("Harbor", "Readable")
        if f">{name}</th>" in row
    }
    assert "Password cannot be decrypted: the encryption key changed" in rows["Harbor"]
    assert "cannot be decrypted" not in rows["Readable"]


def test_list_marks_nothing_while_the_old_key_is_a_fallback(client, owner, unreadable, settings):
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = [OLD_KEY]
    client.force_login(owner)
    response = client.get(reverse("registries:list", kwargs={"slug": "acme"}))
    assert "Harbor" in response.text
    assert "cannot be decrypted" not in response.text


def test_a_row_saved_again_under_the_current_key_is_no_longer_marked(client, owner, unreadable):
    registry = ContainerRegistry.objects.get(pk=unreadable.pk)
    registry.kind.store(registry, {"password": "Entered-Again-42"})  # what an edit does
    registry.save()
    client.force_login(owner)
    response = client.get(reverse("registries:list", kwargs={"slug": "acme"}))
    assert "cannot be decrypted" not in response.text


def test_edit_page_opens_and_a_blank_password_must_be_entered_again(client, owner, unreadable):
    client.force_login(owner)
    url = reverse("registries:edit", kwargs={"slug": "acme", "pk": unreadable.pk})
    assert client.get(url).status_code == 200
    data = {
        "display_name": "Harbor",
        "address": unreadable.address,
        "auth_type": "BasicAuth",
        "username": "robot",
        "password": "",
        "version": unreadable.version,
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "The stored one cannot be decrypted: the encryption key changed" in response.text
    assert raw(unreadable) == raw(ContainerRegistry.objects.get(pk=unreadable.pk))

    client.post(url, {**data, "password": "Entered-Again-42"})
    assert ContainerRegistry.objects.get(pk=unreadable.pk).password == "Entered-Again-42"


def test_saving_other_fields_keeps_the_unreadable_ciphertext_as_it_was(unreadable):
    before = raw(unreadable)
    registry = ContainerRegistry.objects.get(pk=unreadable.pk)
    registry.username = "someone"
    registry.save()
    assert raw(unreadable) == before


def test_stored_test_says_so_and_sends_nothing(client, owner, unreadable, monkeypatch):
    asked = []
    monkeypatch.setattr(connection_test, "probe_registry", lambda **kwargs: asked.append(kwargs))
    client.force_login(owner)
    url = reverse("registries:test-stored", kwargs={"slug": "acme", "pk": unreadable.pk})
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Stored credentials unreadable" in response.text
    assert "cannot be decrypted: the encryption key changed" in response.text
    assert asked == []


def test_delivery_skips_the_organization_and_the_cluster_keeps_the_last_good_secret(
    settings, organization, cluster
):
    # The cluster's kubeconfig was stored under the suite's key: it stays readable throughout.
    cluster_key = settings.CREDENTIALS_KEY
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = OLD_KEY, [cluster_key]
    RegistryFactory(organization=organization, address="ghcr.io", password=SECRET)
    run_tasks()
    good = secret_config(cluster)
    assert good["auths"]["ghcr.io"]["password"] == SECRET

    # The key changed without a fallback, and the organization changes what the cluster holds.
    settings.CREDENTIALS_KEY = NEW_KEY
    RegistryFactory(organization=organization, address="quay.io", password="another-secret")
    run_tasks()
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 target"):
        call_command("reconcile_registries", stdout=io.StringIO(), stderr=err)

    assert "Not synced: the stored credentials of “" in err.getvalue()
    assert "cannot be decrypted: the encryption key changed" in err.getvalue()
    assert secret_config(cluster) == good
    target = organization.delivery_targets.get()
    assert target.status == "error"
    assert "cannot be decrypted" in target.error


# rotate_encryption_key


def test_rotation_reencrypts_under_the_current_key_and_verifies(settings):
    registries = [stored(settings, OLD_KEY) for _ in range(3)]
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    out = rotate()

    assert (
        "3 container registries: 3 re-encrypted and verified, 0 already under the current key"
        in out
    )
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    assert all(ContainerRegistry.objects.get(pk=r.pk).password == SECRET for r in registries)
    assert all(not ContainerRegistry.objects.get(pk=r.pk).credentials_problem for r in registries)
    assert "0 re-encrypted and verified, 3 already under the current key" in rotate()


def test_rotation_rewrites_credentials_of_the_previous_field_too():
    registry = RegistryFactory()
    write_raw(registry, LEGACY_CIPHERTEXT)
    rotate()
    assert raw(registry).startswith(b"gAAAAA")
    assert ContainerRegistry.objects.get(pk=registry.pk).password == "legacy-Passw0rd-stored-before"


def test_dry_run_says_what_it_would_do_and_writes_nothing(settings):
    registry = stored(settings, OLD_KEY)
    before = raw(registry)
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    out = rotate("--dry-run")

    assert "1 container registries: 1 to re-encrypt, 0 already under the current key" in out
    assert "Nothing was written." in out
    assert raw(registry) == before


def test_a_key_that_decrypts_nothing_stops_before_writing_anything(settings):
    registries = [stored(settings, OLD_KEY) for _ in range(3)]
    before = [raw(r) for r in registries]
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, []

    with pytest.raises(CommandError, match="No configured key decrypts any of the 3 stored"):
        rotate()

    assert [raw(r) for r in registries] == before


def test_rows_no_key_reads_are_left_and_named_with_a_non_zero_exit(settings):
    lost = stored(settings, "a-third-key-that-nobody-kept-" + "q" * 30)
    kept = stored(settings, OLD_KEY, organization=lost.organization)
    before = raw(lost)
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    with pytest.raises(
        CommandError,
        match=f"no configured key decrypts: 1 container registries \\(ids {lost.pk}\\)",
    ):
        rotate()

    assert raw(lost) == before
    assert encryption.is_current(raw(kept))


@pytest.mark.django_db(transaction=True)
def test_a_thousand_registries_rotate_and_an_interrupted_run_resumes(settings, monkeypatch):
    from .factories import OrganizationFactory

    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = OLD_KEY, []
    organization = OrganizationFactory()
    ContainerRegistry.objects.bulk_create(
        ContainerRegistry(
            organization=organization,
            display_name=f"Registry {n}",
            address=f"registry{n}.example.com",
            auth_type="BasicAuth" if n % 2 else "Token",
            username="robot",
            password=f"password-{n}" if n % 2 else "",
            token="" if n % 2 else f"token-{n}",
        )
        for n in range(1000)
    )
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    # The process dies while writing the 450th row: the third batch of 200 is rolled back.
    real_rewrite, written = rotation._rewrite, []

    def dies_at_450(table, pk, stored_values, plain):
        if len(written) == 449:
            raise KeyboardInterrupt
        real_rewrite(table, pk, stored_values, plain)
        written.append(pk)

    monkeypatch.setattr(rotation, "_rewrite", dies_at_450)
    with pytest.raises(KeyboardInterrupt):
        rotate()
    monkeypatch.setattr(rotation, "_rewrite", real_rewrite)
    [registries] = [r for r in rotation.survey() if r.name == "container registries"]
    assert (registries.current, registries.rewritten) == (400, 600)

    out = rotate()

    assert (
        "1000 container registries: 600 re-encrypted and verified, "
        "400 already under the current key" in out
    )
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    for n, registry in enumerate(ContainerRegistry.objects.order_by("pk")):
        assert registry.login_secret == (f"password-{n}" if n % 2 else f"token-{n}")


@pytest.mark.django_db(transaction=True)
def test_a_rotation_process_killed_mid_run_is_resumed_by_running_it_again(settings):
    """The command as an operator runs it, in its own process on the same PostgreSQL database,
    killed (SIGKILL: no clean-up of any kind) once its first batch has committed."""
    if connection.vendor != "postgresql":
        pytest.skip("the rotation's own process needs the suite's database on a server")
    from .factories import OrganizationFactory

    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = OLD_KEY, []
    organization = OrganizationFactory()
    ContainerRegistry.objects.bulk_create(
        ContainerRegistry(
            organization=organization,
            display_name=f"Registry {n}",
            address=f"registry{n}.example.com",
            auth_type="BasicAuth",
            username="robot",
            password=f"password-{n}",
        )
        for n in range(1000)
    )
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CRYPTOGRAPHY_KEY": NEW_KEY,
        "CRYPTOGRAPHY_KEY_FALLBACKS": OLD_KEY,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rotate_encryption_key"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in process.stdout:
            if "container registries done" in line:
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    [before] = [r for r in rotation.survey() if r.name == "container registries"]
    assert 200 <= before.current < 1000
    assert before.current + before.rewritten == 1000
    assert not before.unreadable

    out = rotate()

    assert f"1000 container registries: {before.rewritten} re-encrypted and verified" in out
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    passwords = dict(ContainerRegistry.objects.values_list("display_name", "password"))
    assert passwords == {f"Registry {n}": f"password-{n}" for n in range(1000)}


# Cluster kubeconfigs: the same field, rotated by the same command

KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: deployer\n  user: {token: kc-7f3a}\n"


def stored_cluster(settings, key: str, name: str = "eu-west") -> Cluster:
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = key, []
    return Cluster.objects.create(name=name, connection="kubeconfig", kubeconfig=KUBECONFIG)


def raw_kubeconfig(cluster) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("SELECT kubeconfig FROM delivery_cluster WHERE id = %s", [cluster.pk])
        return bytes(cursor.fetchone()[0])


def test_rotation_reencrypts_cluster_kubeconfigs_with_the_credentials(settings):
    cluster = stored_cluster(settings, OLD_KEY)
    stored(settings, OLD_KEY)
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    out = rotate()

    assert "1 clusters: 1 re-encrypted and verified, 0 already under the current key" in out
    assert "1 container registries: 1 re-encrypted and verified" in out
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    assert encryption.is_current(raw_kubeconfig(cluster))
    assert Cluster.objects.get(pk=cluster.pk).kubeconfig == KUBECONFIG
    assert "1 clusters: 0 re-encrypted and verified, 1 already under the current key" in rotate()


def test_dry_run_counts_the_kubeconfigs_and_writes_none(settings):
    cluster = stored_cluster(settings, OLD_KEY)
    before = raw_kubeconfig(cluster)
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    assert "1 clusters: 1 to re-encrypt" in rotate("--dry-run")
    assert raw_kubeconfig(cluster) == before


def test_a_key_that_reads_no_kubeconfig_stops_before_writing_one(settings):
    clusters = [stored_cluster(settings, OLD_KEY, name=f"c{n}") for n in range(2)]
    before = [raw_kubeconfig(c) for c in clusters]
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, []

    with pytest.raises(CommandError, match="No configured key decrypts any of the 2 stored"):
        rotate()

    assert [raw_kubeconfig(c) for c in clusters] == before


def test_a_kubeconfig_no_key_reads_is_left_and_named(settings):
    lost = stored_cluster(settings, "a-key-nobody-kept-any-longer-" + "w" * 30, name="lost")
    kept = stored_cluster(settings, OLD_KEY, name="kept")
    before = raw_kubeconfig(lost)
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    with pytest.raises(CommandError, match=f"1 clusters \\(ids {lost.pk}\\)"):
        rotate()

    assert raw_kubeconfig(lost) == before
    assert encryption.is_current(raw_kubeconfig(kept))


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_kubeconfig_rotation_resumes(settings, monkeypatch):
    clusters = [stored_cluster(settings, OLD_KEY, name=f"c{n}") for n in range(3)]
    settings.CREDENTIALS_KEY, settings.CRYPTOGRAPHY_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    real_rewrite, written = rotation._rewrite, []

    def dies_at_the_second(table, pk, stored_values, plain):
        if len(written) == 1:
            raise KeyboardInterrupt
        real_rewrite(table, pk, stored_values, plain)
        written.append(pk)

    monkeypatch.setattr(rotation, "_rewrite", dies_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        rotation.rotate(batch_size=1)
    monkeypatch.setattr(rotation, "_rewrite", real_rewrite)
    assert [encryption.is_current(raw_kubeconfig(c)) for c in clusters] == [True, False, False]

    [report] = rotation.rotate(
        tables=[t for t in rotation.encrypted_tables() if t.name == "clusters"]
    )

    assert (report.rewritten, report.current) == (2, 1)
    settings.CRYPTOGRAPHY_KEY_FALLBACKS = []
    assert all(Cluster.objects.get(pk=c.pk).kubeconfig == KUBECONFIG for c in clusters)


def test_every_encrypted_field_is_found_through_the_app_registry():
    found = {t.table: t for t in rotation.encrypted_tables()}
    assert found["delivery_cluster"].columns == ("kubeconfig",)
    registries = found["registries_containerregistry"]
    assert {"password", "token"} <= set(registries.columns)
    assert registries.key_id_column == "credentials_key_id"


# check --deploy


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"CRYPTOGRAPHY_KEY": "short-key"}, "registries.E005"),
        ({"CRYPTOGRAPHY_KEY": "a" * 40}, "registries.E005"),
        ({"CRYPTOGRAPHY_KEY": PRODUCTION["SECRET_KEY"]}, "registries.E006"),
        ({"CRYPTOGRAPHY_KEY_FALLBACKS": "too-short"}, "registries.E005"),
    ],
)
def test_deploy_check_requires_a_long_key_of_its_own(overrides, check_id):
    result = manage("check", "--deploy", **{**PRODUCTION, **overrides})
    assert result.returncode != 0
    assert check_id in result.stderr
