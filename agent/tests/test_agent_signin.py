"""The agent's production sign-in, `mode = "secret"` and `mode = "certificate"`, through
azure-identity and MSAL unchanged, against the local stack's development issuer
(devhost/devauth.py) standing in for Entra ID: discovery of the tenant's OpenID
configuration, the client-credentials request over TLS, the issuer checking the secret
or the signature of the certificate's client assertion. The token that comes back is
checked by the service's own validator (shared.auth.tokens), as the ingest API would.
No Azure service is replaced: the issuer is the same one every stack test trusts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_testlib import TENANT, write_config
from devhost.devauth import AppRegistration, DevAuthority, write_self_signed
from shared.auth.tokens import TokenValidator
from shared.settings import Settings

from cdc_agent.auth import AuthError, make_token_provider
from cdc_agent.config import load_config

AUDIENCE = "api://call-data-connector"
SECRET_APP = str(uuid.uuid5(uuid.NAMESPACE_URL, "agent-with-a-secret"))
CERT_APP = str(uuid.uuid5(uuid.NAMESPACE_URL, "agent-with-a-certificate"))
SECRET = "s3cr3t-value-for-the-test"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    write_self_signed(folder, "issuer")  # the issuer's TLS certificate
    write_self_signed(folder, "agent")  # the agent app registration's certificate
    write_self_signed(folder, "stranger")  # a certificate no app registration holds
    return folder


@pytest.fixture(scope="module")
def issuer(certs: Path) -> Iterator[DevAuthority]:
    apps = [
        AppRegistration(SECRET_APP, roles=("CallData.Ingest",), secret=SECRET),
        AppRegistration(
            CERT_APP,
            roles=("CallData.Ingest",),
            certificate_pem=(certs / "agent.crt").read_bytes(),
        ),
    ]
    running = DevAuthority(apps=apps, tls=(certs / "issuer.crt", certs / "issuer.key")).start()
    yield running
    running.stop()


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, certs: Path) -> None:
    """The machine trusts the issuer's TLS certificate (as it trusts Entra's CA)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs / "issuer.crt"))
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


def provider(tmp_path: Path, issuer: DevAuthority, **auth: Any) -> Any:
    cfg = write_config(
        tmp_path, "http://127.0.0.1:9/api", auth={"authority_host": issuer.https_url, **auth}
    )
    loaded = load_config(cfg)
    return make_token_provider(loaded.auth, loaded.server)


def validated(issuer: DevAuthority, token: str) -> Any:
    settings = Settings(
        auth_tenants=(TENANT,), auth_audiences=(AUDIENCE,), dev_authority=issuer.url
    )
    return TokenValidator(settings).validate("Bearer " + token)


@pytest.mark.usefixtures("trusted")
def test_secret_sign_in_gets_an_ingest_token(
    tmp_path: Path, issuer: DevAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDC_TEST_AGENT_SECRET", SECRET)
    tokens = provider(
        tmp_path, issuer, mode="secret", client_id=SECRET_APP, secret_env="CDC_TEST_AGENT_SECRET"
    )
    principal = validated(issuer, tokens.token())
    assert principal.tenant_id == TENANT and principal.roles == ("CallData.Ingest",)
    assert principal.level == "ingest"
    assert tokens.token() == tokens.token()  # cached until close to its expiry


@pytest.mark.usefixtures("trusted")
def test_a_wrong_secret_is_refused_by_the_issuer(
    tmp_path: Path, issuer: DevAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDC_TEST_AGENT_SECRET", "not-the-secret")
    tokens = provider(
        tmp_path, issuer, mode="secret", client_id=SECRET_APP, secret_env="CDC_TEST_AGENT_SECRET"
    )
    with pytest.raises(AuthError, match="AADSTS7000215: Invalid client secret"):
        tokens.token()


@pytest.mark.usefixtures("trusted")
def test_certificate_sign_in_gets_an_ingest_token(
    tmp_path: Path, issuer: DevAuthority, certs: Path
) -> None:
    tokens = provider(
        tmp_path,
        issuer,
        mode="certificate",
        client_id=CERT_APP,
        certificate_path=str(certs / "agent.pem"),
    )
    principal = validated(issuer, tokens.token())
    assert principal.tenant_id == TENANT and principal.roles == ("CallData.Ingest",)
    assert principal.level == "ingest"


@pytest.mark.usefixtures("trusted")
def test_a_certificate_the_app_does_not_hold_is_refused(
    tmp_path: Path, issuer: DevAuthority, certs: Path
) -> None:
    tokens = provider(
        tmp_path,
        issuer,
        mode="certificate",
        client_id=CERT_APP,
        certificate_path=str(certs / "stranger.pem"),
    )
    with pytest.raises(AuthError, match="AADSTS700027"):
        tokens.token()


def test_an_untrusted_issuer_certificate_is_refused(
    tmp_path: Path, issuer: DevAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CA in the trust store the sign-in fails: TLS really is checked."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CDC_TEST_AGENT_SECRET", SECRET)
    tokens = provider(
        tmp_path, issuer, mode="secret", client_id=SECRET_APP, secret_env="CDC_TEST_AGENT_SECRET"
    )
    with pytest.raises(AuthError):
        tokens.token()
