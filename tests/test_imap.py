"""Polling the mailbox of replies, against a real Dovecot on loopback."""

from __future__ import annotations

import os
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapserver import ImapServer, dovecot_server, imap_server, require_dovecot
from mailserver import free_port
from test_mail_tls import certificate  # noqa: F401  (the fixture)

from workplan.config import load_settings
from workplan.errors import ConfigError, InboxError
from workplan.imap import FetchResult, ImapSettings, fetch, is_loopback

__all__ = ["imap_server"]  # the fixture, imported to be used here



def reply(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "ana.perez@example.bz"
    msg["To"] = "workplan+abcdefghijklmnopqrstuvwxyz234567@secretariat.example.org"
    msg["Subject"] = f"Re: digest {n}"
    msg["Message-ID"] = f"<reply-{n}@example.bz>"
    msg.set_content(f"done {n}: sent, with an accent: é\n", cte="quoted-printable")
    return msg.as_bytes()


def settings_for(server: ImapServer, **overrides: str) -> ImapSettings:
    values = {"host": server.host, "port": str(server.port), "security": "none", "user": server.user,
              "password": server.password, "mailbox": "INBOX", "processed": "workplan-processed", "timeout": "10"}
    values.update(overrides)
    return ImapSettings(values["host"], int(values["port"]), values["security"], values["user"],
                        values["password"], values["mailbox"], values["processed"], float(values["timeout"]))


def subjects(raws: list[bytes]) -> list[str]:
    return [line.split(b": ", 1)[1].decode() for raw in raws for line in raw.splitlines()
            if line.startswith(b"Subject: ")]


def test_fetch_hands_over_every_message_in_order_and_moves_it(imap_server: ImapServer) -> None:
    sent = [reply(n) for n in (1, 2, 3)]
    for raw in sent:
        imap_server.append(raw)
    seen: list[bytes] = []

    def handle(raw: bytes) -> str:
        seen.append(raw)
        return f"handled {len(seen)}"

    result = fetch(settings_for(imap_server), handle)
    assert result == FetchResult(("handled 1", "handled 2", "handled 3")) and result.handled == 3
    assert [s.replace(b"\r\n", b"\n") for s in seen] == sent  # the whole message, byte for byte
    assert imap_server.messages("INBOX") == []
    assert subjects(imap_server.messages("workplan-processed")) == ["Re: digest 1", "Re: digest 2", "Re: digest 3"]
    assert "workplan-processed" in imap_server.folders()
    # nothing left: a second fetch hands over nothing
    assert fetch(settings_for(imap_server), handle).handled == 0


def test_a_failing_handler_leaves_that_message_and_the_rest(imap_server: ImapServer) -> None:
    for n in (1, 2, 3):
        imap_server.append(reply(n))
    calls: list[str] = []

    def fails_on_second(raw: bytes) -> None:
        calls.append(subjects([raw])[0])
        if len(calls) == 2:
            raise RuntimeError("the database is down")

    with pytest.raises(RuntimeError, match="the database is down"):
        fetch(settings_for(imap_server), fails_on_second)
    assert calls == ["Re: digest 1", "Re: digest 2"]
    assert subjects(imap_server.messages("INBOX")) == ["Re: digest 2", "Re: digest 3"]
    assert subjects(imap_server.messages("workplan-processed")) == ["Re: digest 1"]

    again: list[str] = []
    result = fetch(settings_for(imap_server), lambda raw: again.append(subjects([raw])[0]))
    assert again == ["Re: digest 2", "Re: digest 3"] and result.handled == 2
    assert imap_server.messages("INBOX") == []
    assert len(imap_server.messages("workplan-processed")) == 3


def test_a_handler_raising_oserror_is_not_mistaken_for_the_server(imap_server: ImapServer) -> None:
    imap_server.append(reply(1))

    def handle(raw: bytes) -> None:
        raise ConnectionRefusedError("the SMTP server for the confirmation")

    with pytest.raises(ConnectionRefusedError):
        fetch(settings_for(imap_server), handle)
    assert len(imap_server.messages("INBOX")) == 1


def test_a_move_that_fails_after_the_handler_leaves_the_message_for_the_next_fetch(imap_server: ImapServer) -> None:
    """The handler applied it, then the move failed: the next fetch hands it over again (the
    handler recognises it by its Message-ID), which is what makes an interrupted fetch safe."""
    for n in (1, 2):
        imap_server.append(reply(n))
    fetch(settings_for(imap_server), lambda raw: None)  # creates the processed folder
    imap_server.append(reply(3))
    imap_server.append(reply(4))

    def handle_and_remove_the_folder(raw: bytes) -> None:
        other = imap_server.connect()
        other.delete('"workplan-processed"')
        other.logout()

    with pytest.raises(InboxError, match=r"refused to move message \d+ to 'workplan-processed'"):
        fetch(settings_for(imap_server), handle_and_remove_the_folder)
    assert subjects(imap_server.messages("INBOX")) == ["Re: digest 3", "Re: digest 4"]
    result = fetch(settings_for(imap_server), lambda raw: subjects([raw])[0])
    assert result.results == ("Re: digest 3", "Re: digest 4")
    assert subjects(imap_server.messages("workplan-processed")) == ["Re: digest 3", "Re: digest 4"]


def test_other_folders_and_an_existing_processed_folder(imap_server: ImapServer) -> None:
    imap_server.append(reply(1), "Replies")
    imap_server.append(reply(9), "Processed replies")
    imap_server.append(reply(2), "INBOX")
    result = fetch(settings_for(imap_server, mailbox="Replies", processed="Processed replies"), lambda raw: raw)
    assert subjects(list(result.results)) == ["Re: digest 1"]
    assert subjects(imap_server.messages("Processed replies")) == ["Re: digest 9", "Re: digest 1"]
    assert len(imap_server.messages("INBOX")) == 1


@pytest.mark.parametrize("capabilities", ["IMAP4rev1 UIDPLUS", "IMAP4rev1"])
def test_without_move_it_copies_flags_and_expunges(capabilities: str) -> None:
    require_dovecot()
    with dovecot_server(capabilities=capabilities) as server:
        conn = server.connect()
        assert "MOVE" not in conn.capability()[1][0].decode().split()
        conn.logout()
        for n in (1, 2):
            server.append(reply(n))
        seen: list[bytes] = []
        assert fetch(settings_for(server), seen.append).handled == 2
        assert server.messages("INBOX") == []
        assert subjects(server.messages("workplan-processed")) == ["Re: digest 1", "Re: digest 2"]


def test_a_message_flagged_deleted_is_not_handed_over(imap_server: ImapServer) -> None:
    imap_server.append(reply(1))
    imap_server.append(reply(2))
    conn = imap_server.connect()
    conn.select("INBOX")
    conn.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    conn.logout()
    result = fetch(settings_for(imap_server), lambda raw: subjects([raw])[0])
    assert result.results == ("Re: digest 2",)


def test_a_wrong_password_is_one_sentence(imap_server: ImapServer) -> None:
    imap_server.append(reply(1))
    with pytest.raises(InboxError) as caught:
        fetch(settings_for(imap_server, password="wrong"), lambda raw: pytest.fail("handled"))
    text = str(caught.value)
    assert text.startswith(f"the IMAP server at 127.0.0.1:{imap_server.port} refused the login of 'focal' (")
    assert "\n" not in text and "wrong" not in text
    assert caught.value.exit_code == 1
    assert len(imap_server.messages("INBOX")) == 1


def test_a_mailbox_that_does_not_exist(imap_server: ImapServer) -> None:
    with pytest.raises(InboxError, match=r"has no mailbox 'Nowhere' for 'focal'"):
        fetch(settings_for(imap_server, mailbox="Nowhere"), lambda raw: None)


def test_nothing_listening() -> None:
    port = free_port()
    with pytest.raises(InboxError) as caught:
        fetch(ImapSettings("127.0.0.1", port, "none", "u", "p", "INBOX", "done", 5), lambda raw: None)
    assert str(caught.value) == f"the IMAP server at 127.0.0.1:{port} refused the connection"
    assert caught.value.exit_code == 1


def test_ssl_against_a_plain_server_fails_in_one_sentence(imap_server: ImapServer) -> None:
    with pytest.raises(InboxError, match=rf"^(TLS with|cannot talk to) the IMAP server at 127.0.0.1:{imap_server.port}"):
        fetch(settings_for(imap_server, security="ssl"), lambda raw: None)
    with pytest.raises(InboxError, match=rf"127.0.0.1:{imap_server.port} does not offer STARTTLS"):
        fetch(settings_for(imap_server, security="starttls"), lambda raw: None)


def test_a_server_that_never_answers() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(InboxError, match=rf"at 127.0.0.1:{port} did not answer within 0.5 s"):
            fetch(ImapSettings("127.0.0.1", port, "none", "u", "p", "INBOX", "done", 0.5), lambda raw: None)


def test_nothing_is_left_running() -> None:
    require_dovecot()
    with dovecot_server() as server:
        server.append(reply(1))
        fetch(settings_for(server), lambda raw: None)
        pids = server.process_ids()
        folder = server.folder
        assert len(pids) > 1
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists() and _alive(pid)]
    assert not folder.exists()
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()


def test_the_server_is_stopped_when_the_block_raises() -> None:
    require_dovecot()
    with pytest.raises(KeyError), dovecot_server() as server:
        pids = server.process_ids()
        raise KeyError("boom")
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ---------------------------------------------------------------------------
# the settings


def write_toml(tmp_path: Path, text: str) -> Path:
    (tmp_path / "actions.yaml").write_text("", encoding="utf-8")
    (tmp_path / "workplan.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    write_toml(tmp_path, '[inbox.imap]\nhost = "imap.example.org"\nuser = "workplan"\n'
                         'password_env = "REPLIES_PASSWORD"\nprocessed = "Done"\n')
    settings = load_settings(tmp_path, environ={"WORKPLAN_INBOX_IMAP_TIMEOUT": "12"})
    imap = ImapSettings.from_settings(settings, {"REPLIES_PASSWORD": "pw"})
    assert imap == ImapSettings("imap.example.org", 993, "ssl", "workplan", "pw", "INBOX", "Done", 12.0)
    settings = load_settings(tmp_path, environ={"WORKPLAN_INBOX_IMAP_SECURITY": "starttls"})
    assert ImapSettings.from_settings(settings, {"REPLIES_PASSWORD": "pw"}).port == 143


def test_the_default_password_variable(tmp_path: Path) -> None:
    write_toml(tmp_path, '[inbox]\nimap.host = "127.0.0.1"\nimap.user = "w"\nimap.security = "none"\nimap.port = 1143\n')
    imap = ImapSettings.from_settings(load_settings(tmp_path, environ={}), {"WORKPLAN_IMAP_PASSWORD": "pw"})
    assert (imap.host, imap.port, imap.security, imap.password) == ("127.0.0.1", 1143, "none", "pw")


def test_the_password_is_never_in_the_file(tmp_path: Path) -> None:
    write_toml(tmp_path, '[inbox.imap]\nhost = "imap.example.org"\npassword = "pw"\n')
    with pytest.raises(ConfigError, match="IMAP password is read only from the environment variable named by "
                                          "inbox.imap.password_env"):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize(("toml", "environ", "sentence"), [
    ('user = "w"', {"WORKPLAN_IMAP_PASSWORD": "pw"}, "inbox.imap.host is not set"),
    ('host = "imap.example.org"', {"WORKPLAN_IMAP_PASSWORD": "pw"}, "inbox.imap.user is not set"),
    ('host = "imap.example.org"\nuser = "w"', {}, "read from the environment variable WORKPLAN_IMAP_PASSWORD, which is empty"),
    ('host = "imap.example.org"\nuser = "w"\nsecurity = "tls"', {"WORKPLAN_IMAP_PASSWORD": "pw"},
     "inbox.imap.security must be ssl, starttls or none, not 'tls'"),
    ('host = "imap.example.org"\nuser = "w"\nsecurity = "none"', {"WORKPLAN_IMAP_PASSWORD": "pw"},
     "allowed only for a loopback host .* not 'imap.example.org'"),
    ('host = "imap.example.org"\nuser = "w"\nport = "x"', {"WORKPLAN_IMAP_PASSWORD": "pw"},
     "setting inbox.imap.port must be a whole number"),
    ('host = "imap.example.org"\nuser = "w"\nport = 70000', {"WORKPLAN_IMAP_PASSWORD": "pw"},
     "between 1 and 65535"),
    ('host = "imap.example.org"\nuser = "w"\nprocessed = "INBOX"', {"WORKPLAN_IMAP_PASSWORD": "pw"},
     "two different folders"),
    ('host = "imap.example.org"\nuser = "w"\ntimeout = "0"', {"WORKPLAN_IMAP_PASSWORD": "pw"},
     "inbox.imap.timeout must be a number of seconds above 0"),
])
def test_settings_that_cannot_be_used(tmp_path: Path, toml: str, environ: dict[str, str], sentence: str) -> None:
    write_toml(tmp_path, "[inbox.imap]\n" + toml + "\n")
    with pytest.raises(ConfigError, match=sentence) as caught:
        ImapSettings.from_settings(load_settings(tmp_path, environ={}), environ)
    assert caught.value.exit_code == 2


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("imap.example.org", "10.0.0.1", "localhost.example.org", "0.0.0.0"))


def test_runs_as_this_user_or_as_dovecot() -> None:
    """The fixture's processes never keep mail as root (Dovecot would refuse)."""
    require_dovecot()
    with dovecot_server() as server:
        server.append(reply(1))
        owner = next((server.folder / "mail").iterdir()).stat().st_uid
    assert owner != 0 or os.geteuid() != 0


# ---------------------------------------------------------------------------
# TLS: STARTTLS and IMAPS with a certificate made for the test




def test_starttls_and_imaps_with_a_trusted_certificate(certificate: tuple[Path, Path],  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    require_dovecot()
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test's own certificate
    with dovecot_server(tls=certificate) as server:
        assert server.tls_port is not None
        server.append(reply(1))
        server.append(reply(2))
        first = fetch(settings_for(server, security="starttls"), lambda raw: subjects([raw])[0])
        assert first.results == ("Re: digest 1", "Re: digest 2")
        server.append(reply(3))
        second = fetch(settings_for(server, security="ssl", port=str(server.tls_port)), lambda raw: subjects([raw])[0])
        assert second.results == ("Re: digest 3",)


def test_an_untrusted_certificate_is_one_sentence(certificate: tuple[Path, Path]) -> None:  # noqa: F811
    require_dovecot()
    with dovecot_server(tls=certificate) as server:
        server.append(reply(1))
        for security, port in (("starttls", server.port), ("ssl", server.tls_port)):
            with pytest.raises(InboxError, match=rf"^the IMAP server at 127.0.0.1:{port} did not present a "
                                                 "certificate this machine trusts"):
                fetch(settings_for(server, security=security, port=str(port)), lambda raw: pytest.fail("handled"))
        assert len(server.messages("INBOX")) == 1
