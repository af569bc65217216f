"""Token validation with real RS256 tokens and a JWKS served on loopback."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.problems import as_problem
from shared.auth.levels import levels_from_claims
from shared.auth.tokens import TokenValidator
from shared.errors import DomainError
from shared.settings import Settings

TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b"
OTHER = "11111111-2222-4333-8444-555555555555"
AUD = "api://call-data-connector"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ROGUE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key, kid):
    d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return d | {"kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def authority():
    fetches = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            fetches.append(self.path)
            body = json.dumps({"keys": [_jwk(KEY, "k1")]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", fetches
    srv.shutdown()


@pytest.fixture()
def validator(authority):
    url, _ = authority
    return TokenValidator(
        Settings(auth_tenants=(TENANT, OTHER), auth_audiences=(AUD,), dev_authority=url)
    )


def token(
    authority_url,
    *,
    tid=TENANT,
    key=KEY,
    kid="k1",
    alg="RS256",
    aud=AUD,
    iss=None,
    exp=3600,
    nbf=0,
    roles=("CallData.Ingest",),
    wids=(),
    drop=(),
):
    now = int(time.time())
    claims = {
        "tid": tid,
        "aud": aud,
        "iss": iss or f"{authority_url}/{tid}/v2.0",
        "iat": now,
        "nbf": now + nbf,
        "exp": now + exp,
        "oid": "o1",
        "roles": list(roles),
        "wids": list(wids),
        "preferred_username": "agent@contoso.com",
    }
    for k in drop:
        claims.pop(k)
    return "Bearer " + jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def test_valid_token_gives_a_principal(validator, authority):
    p = validator.validate(token(authority[0], roles=("CallData.Ingest", "QualityReports.Read")))
    assert p.tenant_id == TENANT and p.levels == ("reader", "ingest")


def _reason(validator, header):
    with pytest.raises(DomainError) as info:
        validator.validate(header)
    assert as_problem(info.value).status == 401
    return info.value.detail


def test_token_attacks_are_401(validator, authority):
    url = authority[0]
    none_token = (
        base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        + "."
        + base64.urlsafe_b64encode(
            json.dumps({"tid": TENANT, "aud": AUD, "exp": time.time() + 60}).encode()
        )
        .rstrip(b"=")
        .decode()
        + "."
    )
    cases = {
        "missing": None,
        "not bearer": "Basic abc",
        "garbage": "Bearer abc.def",
        "alg none": "Bearer " + none_token,
        "expired": token(url, exp=-600),
        "future nbf": token(url, nbf=600),
        "wrong audience": token(url, aud="api://other"),
        "wrong issuer": token(url, iss="https://evil.example/v2.0"),
        "unknown kid": token(url, kid="k2"),
        "wrong key": token(url, key=ROGUE),
        "missing tid": token(url, drop=("tid",)),
        "unconfigured tenant": token(url, tid="99999999-2222-4333-8444-555555555555"),
    }
    for name, header in cases.items():
        assert _reason(validator, header), name


def test_hs256_signed_with_the_public_key_is_401(validator, authority):
    """The classic key-confusion attack: HMAC keyed with the RSA public key."""
    import hashlib
    import hmac

    url = authority[0]
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(
        json.dumps(
            {
                "tid": TENANT,
                "aud": AUD,
                "iss": f"{url}/{TENANT}/v2.0",
                "exp": int(time.time()) + 60,
                "roles": ["CallAnalytics.Admin"],
            }
        ).encode()
    )
    sig = b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    assert "RS256" in _reason(validator, f"Bearer {head}.{body}.{sig}")


def test_jwks_is_cached(validator, authority):
    url, fetches = authority
    before = len(fetches)
    for _ in range(5):
        validator.validate(token(url))
    assert len(fetches) - before <= 1


def test_levels_from_wids_and_roles():
    assert levels_from_claims(["62E90394-69F5-4237-9190-012177145E10"], []) == ["admin"]
    assert levels_from_claims(
        ["fcf91098-03e3-41a9-b5ba-6f0ec8188a12"], ["CallAnalytics.Engineer"]
    ) == ["engineer", "specialist"]
    assert levels_from_claims(["unknown"], ["Other.Role"]) == []


def test_settings_refuse_a_non_loopback_dev_authority():
    from shared.settings import SettingsError

    with pytest.raises(SettingsError):
        Settings.from_env({"CDC_DEV_AUTHORITY": "https://login.example.com"})


ENGINEER_WID = "f70938a0-fc10-4177-9e90-2178f8765737"


def test_app_only_tokens_get_levels_from_roles_only(validator, authority):
    url = authority[0]
    app = token(url, roles=(), wids=(ENGINEER_WID,), drop=("preferred_username",))
    assert validator.validate(app).levels == ()
    now = int(time.time())
    claims = {
        "tid": TENANT,
        "aud": AUD,
        "iss": f"{url}/{TENANT}/v2.0",
        "iat": now,
        "exp": now + 600,
        "oid": "o1",
        "idtyp": "app",
        "upn": "x@contoso.com",
        "roles": ["QualityReports.Read"],
        "wids": [ENGINEER_WID],
    }
    tagged = "Bearer " + jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})
    assert validator.validate(tagged).levels == ("reader",)
    # a delegated user token keeps its directory role
    user = token(url, roles=(), wids=(ENGINEER_WID,))
    assert validator.validate(user).levels == ("engineer",)


class _Jwks:
    """A JWKS endpoint whose key list and health the test changes."""

    def __init__(self) -> None:
        self.keys = [_jwk(KEY, "k1")]
        self.fail = False
        self.fetches = 0
        owner = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.fetches += 1
                if owner.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"


@pytest.fixture()
def jwks():
    j = _Jwks()
    yield j
    j.srv.shutdown()


def _validator_with_clock(url):
    from shared.auth import tokens

    v = TokenValidator(Settings(auth_tenants=(TENANT,), auth_audiences=(AUD,), dev_authority=url))
    clock = [1000.0]
    ks = v.key_set(TENANT)
    ks.clock = lambda: clock[0]
    return v, clock, tokens


def test_a_key_removed_from_the_jwks_stops_being_trusted(jwks):
    v, clock, tokens = _validator_with_clock(jwks.url)
    assert v.validate(token(jwks.url)).tenant_id == TENANT
    jwks.keys = [_jwk(ROGUE, "k2")]  # k1 rotated out
    clock[0] += tokens.KEYS_MAX_AGE - 1
    assert v.validate(token(jwks.url)).tenant_id == TENANT  # still within the max age
    clock[0] += 2
    assert "signing key" in _reason(v, token(jwks.url))
    assert tokens.KEYS_MAX_AGE <= 24 * 3600  # refreshed at least daily
    assert v.validate(token(jwks.url, key=ROGUE, kid="k2")).tenant_id == TENANT


def test_unknown_kids_after_a_failed_fetch_do_not_fetch_again(jwks):
    v, clock, tokens = _validator_with_clock(jwks.url)
    jwks.fail = True
    for i in range(100):
        _reason(v, token(jwks.url, kid=f"made-up-{i}"))
    assert jwks.fetches == 1
    jwks.fail = False
    clock[0] += tokens.FAILURE_COOLDOWN + 1
    assert v.validate(token(jwks.url)).tenant_id == TENANT
    before = jwks.fetches
    for i in range(100):  # unknown kids with a good key set: one refetch a cooldown
        _reason(v, token(jwks.url, kid=f"other-{i}"))
    assert jwks.fetches - before <= 1
