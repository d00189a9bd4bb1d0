"""SMTP over STARTTLS and implicit TLS, with a login, against a real server on loopback whose
certificate is made for the test; a wrong password or an untrusted certificate stops the batch."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from mailserver import Recorder, smtp_server
from test_mail import SmtpEnv, send, smtp_env, status  # noqa: F401  (the fixture)

from conftest import MINIMAL, run_cli, write_project

PASSWORD = "s3cret-Passw0rd"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl program is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"ts", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@pytest.mark.usefixtures("db_backend")
def test_starttls_and_login(tmp_path: Path, smtp_env: SmtpEnv, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                            certificate: tuple[Path, Path]) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    recorder = Recorder()
    with smtp_server(recorder, tls_context=_server_context(certificate), require_starttls=True,
                     authenticator=_authenticator, auth_require_tls=True) as port:
        smtp_env(port)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test's own certificate
        monkeypatch.setenv("WORKPLAN_SMTP_SECURITY", "starttls")
        monkeypatch.setenv("WORKPLAN_SMTP_USER", "ts")
        monkeypatch.setenv("WORKPLAN_SMTP_PASSWORD", PASSWORD)
        ok = send(folder, as_of="2020-04-15")
        assert ok.code == 0, ok.err
        assert len(recorder.delivered) == 3
        # a wrong password: the server refuses us, so no other digest is tried either
        monkeypatch.setenv("WORKPLAN_SMTP_PASSWORD", "wrong")
        refused = send(folder, as_of="2020-04-22")
    assert refused.code == 1
    assert "refused the login of 'ts' (535)" in refused.err
    assert len(recorder.delivered) == 3
    log = status(folder, "2020-04-22")
    assert sorted(x["status"] for x in log.values()) == ["failed", "not sent", "not sent"]
    for text in (ok.out, ok.err, refused.out, refused.err, str(log)):
        assert PASSWORD not in text and "wrong" not in text


def test_implicit_tls(tmp_path: Path, smtp_env: SmtpEnv, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                      certificate: tuple[Path, Path]) -> None:
    folder = write_project(tmp_path / "p", MINIMAL)
    assert run_cli(folder, "sync").code == 0
    recorder = Recorder()
    with smtp_server(recorder, server_hostname="127.0.0.1", ssl_context=_server_context(certificate)) as port:
        smtp_env(port)
        monkeypatch.setenv("WORKPLAN_SMTP_SECURITY", "ssl")
        untrusted = send(folder, as_of="2020-04-15")
        assert untrusted.code == 1
        assert f"the SMTP server at 127.0.0.1:{port} did not present a certificate this machine trusts" \
               in untrusted.err
        assert recorder.delivered == []
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        trusted = send(folder, as_of="2020-04-15")
        assert trusted.code == 0, trusted.err
    assert len(recorder.delivered) == 3
