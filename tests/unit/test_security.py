from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from haven.config import Settings
from haven.security.passwords import hash_password, verify_password
from haven.security.secrets import constant_time_equal, new_token, token_hash
from haven.security.throttle import SlidingWindowLimiter
from haven.web.security_headers import CONTENT_SECURITY_POLICY, content_security_policy


def test_passwords_hash_with_argon2id_and_verify() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "correct horse battery stapl")
    assert not verify_password("not-a-hash", "whatever")
    assert not verify_password(None, "haven-timing-equaliser")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match="12 characters"):
        hash_password("short")


def test_tokens_are_long_random_and_stored_as_hashes() -> None:
    a, b = new_token("hvn_"), new_token("hvn_")
    assert a != b and a.startswith("hvn_") and len(a) > 40
    assert token_hash(a) != a and len(token_hash(a)) == 64
    assert constant_time_equal(a, a) and not constant_time_equal(a, b)


def test_limiter_counts_per_key_within_the_window() -> None:
    limiter = SlidingWindowLimiter(limit=2, window_seconds=60)
    limiter.hit("ip:1", "email:a")
    limiter.hit("ip:1", "email:a")
    assert not limiter.allowed("ip:1", "email:b")
    assert not limiter.allowed("ip:2", "email:a")
    assert limiter.allowed("ip:2", "email:b")
    limiter.clear("email:a")
    assert limiter.allowed("ip:2", "email:a")


def test_limiter_forgets_after_the_window() -> None:
    limiter = SlidingWindowLimiter(limit=1, window_seconds=0.01)
    limiter.hit("k")
    time.sleep(0.02)
    assert limiter.allowed("k")


def test_production_refuses_demo_secrets_and_insecure_cookies() -> None:
    with pytest.raises(ValidationError, match="HAVEN_ENCRYPTION_KEYS"):
        Settings(environment="production")
    key = "a2V5LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzLWxvbmchIQ=="
    with pytest.raises(ValidationError, match="COOKIE_SECURE"):
        Settings(environment="production", encryption_keys=f"k1:{key}")
    with pytest.raises(ValidationError, match="demo_phone"):
        Settings(environment="production", encryption_keys=f"k1:{key}", cookie_secure=True)
    with pytest.raises(ValidationError, match="CODE_SENDER_URL"):
        Settings(
            environment="production", encryption_keys=f"k1:{key}", cookie_secure=True, code_sender="http"
        )
    ok = Settings(
        environment="production",
        encryption_keys=f"k1:{key}",
        cookie_secure=True,
        code_sender="http",
        code_sender_url="https://sms.bank.example/send",
        code_sender_token="gateway-token",
    )
    assert ok.environment == "production"


def test_an_oidc_issuer_needs_its_client() -> None:
    with pytest.raises(ValidationError, match="OIDC_CLIENT_ID"):
        Settings(oidc_issuer="https://id.bank.example")


def test_settings_come_from_haven_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_PORT", "9001")
    monkeypatch.setenv("HAVEN_PUBLIC_BASE_URL", "https://care.bank.example/")
    settings = Settings()
    assert settings.port == 9001 and settings.public_base_url == "https://care.bank.example"


def test_the_policy_admits_form_redirects_only_to_the_configured_provider() -> None:
    assert content_security_policy() == CONTENT_SECURITY_POLICY
    policy = content_security_policy(["https://id.bank.example/realms/customers"])
    assert "form-action 'self' https://id.bank.example;" in policy
    assert policy.replace(" https://id.bank.example", "") == CONTENT_SECURITY_POLICY
