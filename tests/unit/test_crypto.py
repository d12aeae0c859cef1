import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.security.crypto import DecryptionError, FieldCipher


def _key() -> bytes:
    return os.urandom(32)


def test_round_trip_and_fresh_nonce_each_time() -> None:
    cipher = FieldCipher({"k1": _key()})
    first = cipher.encrypt("secret value", context="a")
    second = cipher.encrypt("secret value", context="a")
    assert first != second
    assert cipher.decrypt(first, context="a") == "secret value"
    assert "secret" not in first


def test_ciphertext_is_bound_to_its_context() -> None:
    cipher = FieldCipher({"k1": _key()})
    sealed = cipher.encrypt("x", context="channel_account.credentials")
    with pytest.raises(DecryptionError):
        cipher.decrypt(sealed, context="contact.note")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2],
        lambda t: t.replace("v1.", "v9.", 1),
        lambda t: t + "A",
        lambda t: "garbage",
        lambda t: "v1.k1.!!.!!",
        lambda t: "",
    ],
)
def test_tampered_or_truncated_ciphertexts_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    cipher = FieldCipher({"k1": _key()})
    with pytest.raises(DecryptionError):
        cipher.decrypt(mangle(cipher.encrypt("value", context="c")), context="c")


def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old, new = _key(), _key()
    sealed_with_old = FieldCipher({"old": old}).encrypt("v", context="c")
    rotated = FieldCipher({"new": new, "old": old})
    assert rotated.decrypt(sealed_with_old, context="c") == "v"
    assert rotated.encrypt("v", context="c").split(".")[1] == "new"
    with pytest.raises(DecryptionError):
        FieldCipher({"new": new}).decrypt(sealed_with_old, context="c")


def test_from_config_parses_and_validates() -> None:
    key = base64.urlsafe_b64encode(_key()).decode()
    assert (
        FieldCipher.from_config(f"a:{key}, b:{key}").decrypt(
            FieldCipher.from_config(f"b:{key}").encrypt("v", context="c"), context="c"
        )
        == "v"
    )
    with pytest.raises(ValueError):
        FieldCipher.from_config("no-separator")
    with pytest.raises(ValueError):
        FieldCipher.from_config(f"a:{base64.urlsafe_b64encode(b'short').decode()}")
    with pytest.raises(ValueError):
        FieldCipher.from_config("")


@given(st.text(max_size=500))
def test_any_text_round_trips(text: str) -> None:
    cipher = FieldCipher({"k": b"k" * 32})
    assert cipher.decrypt(cipher.encrypt(text, context="c"), context="c") == text
