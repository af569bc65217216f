"""The development issuer must produce tokens the real validator (shared.auth.tokens)
accepts exactly as it would accept Entra's: RS256, kid in a JWKS served at the Entra
path, iss `{authority}/{tid}/v2.0`. Loopback thread only: no emulator needed."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devhost.devauth import KID, DevAuthority, load_key, mint_token
from shared.auth.tokens import TokenValidator
from shared.problems import Problem
from shared.settings import Settings

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
AUD = "api://call-data-connector"


@pytest.fixture(scope="module")
def authority() -> Iterator[DevAuthority]:
    running = DevAuthority().start()
    yield running
    running.stop()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_token_verifies_against_the_served_jwks(authority: DevAuthority) -> None:
    token = mint_token(
        TENANT,
        authority=authority.url,
        user="sip:alice@contoso.com",
        roles=["CallAnalytics.Engineer"],
        wids=["wid-1"],
    )
    assert jwt.get_unverified_header(token)["kid"] == KID
    client = jwt.PyJWKClient(f"{authority.url}/{TENANT}/discovery/v2.0/keys")
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=AUD, issuer=f"{authority.url}/{TENANT}/v2.0"
    )
    assert claims["tid"] == TENANT
    assert claims["preferred_username"] == claims["upn"] == "alice@contoso.com"
    assert claims["roles"] == ["CallAnalytics.Engineer"] and claims["wids"] == ["wid-1"]
    assert claims["oid"] and claims["sub"]
    assert claims["nbf"] <= claims["iat"] + 1 and claims["exp"] - claims["iat"] == 3600


def test_openid_configuration_for_any_tenant(authority: DevAuthority) -> None:
    tid = "11111111-2222-4333-8444-555555555555"
    config = _get(f"{authority.url}/{tid}/v2.0/.well-known/openid-configuration")
    assert config["issuer"] == f"{authority.url}/{tid}/v2.0"
    assert _get(config["jwks_uri"])["keys"][0]["kid"] == KID
    with pytest.raises(urllib.error.HTTPError):
        _get(f"{authority.url}/{tid}/nothing")


def test_options_audience_lifetime_and_extra_claims(authority: DevAuthority) -> None:
    nbf = int(time.time()) + 600
    token = authority.token(
        TENANT,
        audience="other",
        expires_in=60,
        not_before=nbf,
        extra_claims={"appid": "x"},
        roles="ingest",
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "other" and claims["nbf"] == nbf and claims["appid"] == "x"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["roles"] == ["CallData.Ingest"]  # a level name maps to its role
    assert "upn" not in claims  # no user: an app (client credentials) token


def test_default_audience_is_the_first_configured(
    monkeypatch: pytest.MonkeyPatch, authority: DevAuthority
) -> None:
    monkeypatch.setenv("AUTH_AUDIENCES", "api://first, second")
    claims = jwt.decode(authority.token(TENANT), options={"verify_signature": False})
    assert claims["aud"] == "api://first"


def test_authority_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_DEV_AUTHORITY", "http://127.0.0.1:9/")
    claims = jwt.decode(mint_token(TENANT), options={"verify_signature": False})
    assert claims["iss"] == f"http://127.0.0.1:9/{TENANT}/v2.0"


def test_the_service_validator_accepts_dev_tokens(authority: DevAuthority) -> None:
    settings = Settings(auth_tenants=(TENANT,), auth_audiences=(AUD,), dev_authority=authority.url)
    principal = TokenValidator(settings).validate(
        "Bearer " + authority.token(TENANT, user="bob@contoso.com", roles=["CallData.Ingest"])
    )
    assert principal.tenant_id == TENANT and principal.name == "bob@contoso.com"
    assert principal.roles == ("CallData.Ingest",)


def test_a_token_signed_by_another_key_is_rejected(authority: DevAuthority) -> None:
    settings = Settings(auth_tenants=(TENANT,), auth_audiences=(AUD,), dev_authority=authority.url)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Problem) as caught:
        TokenValidator(settings).validate("Bearer " + authority.token(TENANT, key=other))
    assert caught.value.status == 401


def test_the_key_persists(tmp_path) -> None:
    path = tmp_path / "dev-auth" / "key.pem"
    first = load_key(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_key(path).private_numbers() == first.private_numbers()
