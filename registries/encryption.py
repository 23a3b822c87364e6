"""Stored passwords and tokens, encrypted at rest with keys that can be rotated.

`CRYPTOGRAPHY_KEY` encrypts; it and `CRYPTOGRAPHY_KEY_FALLBACKS` decrypt, as Django does with
SECRET_KEY and SECRET_KEY_FALLBACKS. (The key is read as `settings.CREDENTIALS_KEY`: see
orgsettings/settings.py for why.) Each key is stretched into a Fernet key (AES-128-CBC with
HMAC-SHA256), and `cryptography`'s MultiFernet tries them in order. A value no key can read is
loaded as an `UnreadableSecret`: pages show "cannot be decrypted", nothing sends it anywhere,
and saving the row writes the original ciphertext back unchanged.

Rows written by the field this replaced (django-cryptography) are read too, until
`manage.py rotate_encryption_key` has rewritten them: that format's HMAC was keyed with
SECRET_KEY, so rotating SECRET_KEY alone used to make every stored credential unreadable.

Beside its encrypted values a model may keep an `EncryptionKeyIdField`: a short, non-secret
identifier of the key that wrote them, so that a list can tell a row that no configured key reads
without loading or decrypting its secrets.
"""

from __future__ import annotations

import base64
import functools
import hmac
import pickle
import struct
from hashlib import sha256

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.db import models

UNREADABLE_MESSAGE = "cannot be decrypted: the encryption key changed"
_SALT = b"orgsettings-registry-credentials"
_ITERATIONS = 200_000
_FERNET_PREFIX = b"gAAAAA"  # every Fernet token: version 0x80, base64url
_KEY_ID_LABEL = b"orgsettings encryption key id"
KEY_ID_LENGTH = 16


class UnreadableSecret(str):
    """A stored secret that no configured key decrypts. Empty as text, so it is never sent or
    shown; it keeps the ciphertext, so a save writes back exactly what was stored."""

    ciphertext: bytes

    def __new__(cls, ciphertext: bytes) -> UnreadableSecret:
        value = super().__new__(cls, "")
        value.ciphertext = ciphertext
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableSecret) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)

    def __repr__(self) -> str:
        return "<UnreadableSecret>"


def is_unreadable(value: object) -> bool:
    return isinstance(value, UnreadableSecret)


def keys() -> list[str]:
    """The current key first, then the fallbacks: the order decryption tries them in."""
    fallbacks = settings.CRYPTOGRAPHY_KEY_FALLBACKS
    if isinstance(fallbacks, str):
        fallbacks = [key.strip() for key in fallbacks.split(",") if key.strip()]
    return [settings.CREDENTIALS_KEY, *fallbacks]


@functools.lru_cache(maxsize=16)
def fernet_for(key: str) -> Fernet:
    """The Fernet of one configured key (stretched once per process: PBKDF2 is slow on purpose)."""
    stretched = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=_SALT, iterations=_ITERATIONS
    ).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(stretched))


@functools.lru_cache(maxsize=16)
def key_id(key: str) -> str:
    """A short identifier of `key` that tells nothing about it: an HMAC of a fixed label."""
    return hmac.new(key.encode(), _KEY_ID_LABEL, sha256).hexdigest()[:KEY_ID_LENGTH]


def current_key_id() -> str:
    return key_id(settings.CREDENTIALS_KEY)


def readable_key_ids() -> set[str]:
    """The identifiers of every configured key: values written under one of them can be read."""
    return {key_id(key) for key in keys()}


def key_id_reading(ciphertexts: list[bytes]) -> str:
    """The identifier of the first configured key that reads every one of `ciphertexts`, or ""
    when no single key does."""
    for key in keys():
        if all(_reads(key, ciphertext) for ciphertext in ciphertexts):
            return key_id(key)
    return ""


def _reads(key: str, ciphertext: bytes) -> bool:
    if ciphertext.startswith(_FERNET_PREFIX):
        try:
            fernet_for(key).decrypt(ciphertext)
        except InvalidToken:
            return False
        return True
    return _decrypt_legacy(ciphertext, [key]) is not None


def multi_fernet() -> MultiFernet:
    return MultiFernet([fernet_for(key) for key in keys()])


def encrypt(plaintext: str) -> bytes:
    """A Fernet token of `plaintext` under the current key."""
    return fernet_for(settings.CREDENTIALS_KEY).encrypt(plaintext.encode())


def decrypt(ciphertext: bytes) -> str:
    """The plaintext, with whichever configured key reads it; UnreadableSecret if none does."""
    if ciphertext.startswith(_FERNET_PREFIX):
        try:
            return multi_fernet().decrypt(ciphertext).decode()
        except (InvalidToken, UnicodeDecodeError):
            return UnreadableSecret(ciphertext)
    legacy = _decrypt_legacy(ciphertext)
    return UnreadableSecret(ciphertext) if legacy is None else legacy


def is_current(ciphertext: bytes) -> bool:
    """Whether the current key alone reads this ciphertext (nothing left to rotate)."""
    if not ciphertext.startswith(_FERNET_PREFIX):
        return False
    try:
        fernet_for(settings.CREDENTIALS_KEY).decrypt(ciphertext)
    except InvalidToken:
        return False
    return True


def _decrypt_legacy(ciphertext: bytes, decryption_keys: list[str] | None = None) -> str | None:
    """Read django-cryptography's format: version, timestamp, IV and AES-CBC ciphertext of a
    pickled str, then an HMAC-SHA256 keyed with SECRET_KEY; the AES key is PBKDF2 of the
    CRYPTOGRAPHY_KEY. Every configured key and SECRET_KEY fallback is tried."""
    header, digest = struct.calcsize(">cQ"), sha256().digest_size
    if len(ciphertext) < header + 16 + 16 + digest or ciphertext[:1] != b"\x80":
        return None
    payload, signature = ciphertext[:-digest], ciphertext[-digest:]
    signing_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(
        hmac.compare_digest(hmac.new(key.encode(), payload, sha256).digest(), signature)
        for key in signing_keys
    ):
        return None
    iv, body = payload[header : header + 16], payload[header + 16 :]
    for key in keys() if decryption_keys is None else decryption_keys:
        aes_key = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=b"django-cryptography", iterations=30000
        ).derive(key.encode())
        decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        try:
            padded = decryptor.update(body) + decryptor.finalize()
            unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
            data = unpadder.update(padded) + unpadder.finalize()
            # Authenticated above (HMAC with our SECRET_KEY): only this application wrote it.
            value = pickle.loads(data)  # noqa: S301
        except (ValueError, pickle.UnpicklingError, EOFError):
            continue
        if isinstance(value, str):
            return value
    return None


class EncryptedTextField(models.BinaryField):
    """Text stored as a Fernet token; see the module docstring for keys and unreadable values."""

    description = "Encrypted text"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("editable", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def _check_str_default_value(self):
        return []  # the default is text: it is encrypted like any other value

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        if kwargs.get("default") == "":
            kwargs.pop("default")
        return name, path, args, kwargs

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if is_unreadable(value):
            return connection.Database.Binary(value.ciphertext)
        return connection.Database.Binary(encrypt(str(value)))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return decrypt(bytes(value))

    def to_python(self, value):
        return value

    def value_to_string(self, obj) -> str:
        # Never serialize a secret (dumpdata, admin history): only that one is stored.
        return ""

    def formfield(self, **kwargs):
        return None


class EncryptionKeyIdField(models.CharField):
    """The identifier of the key that wrote the model's encrypted values (see `key_id`).

    Set on every save from the values being saved: the current key's, unless one of them is an
    `UnreadableSecret` (kept as it was stored) or not loaded, when the stored identifier is kept.
    `manage.py rotate_encryption_key` updates it with the values it rewrites.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", KEY_ID_LENGTH)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for option, default in (("max_length", KEY_ID_LENGTH), ("blank", True), ("default", "")):
            if kwargs.get(option) == default:
                kwargs.pop(option)
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        encrypted = [
            field
            for field in model_instance._meta.concrete_fields
            if isinstance(field, EncryptedTextField)
        ]
        deferred = model_instance.get_deferred_fields()
        values = [
            getattr(model_instance, field.attname)
            for field in encrypted
            if field.attname not in deferred
        ]
        if len(values) == len(encrypted) and not any(is_unreadable(value) for value in values):
            setattr(model_instance, self.attname, current_key_id())
        return getattr(model_instance, self.attname)
