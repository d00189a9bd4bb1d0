"""A real IMAP server on loopback: Debian's Dovecot with a throwaway configuration.

``dovecot_server()`` (a context manager) and the ``imap_server`` fixture start
``/usr/sbin/dovecot -F -c CONF`` on 127.0.0.1 on a free port: maildir storage, one user with a
plaintext password in a passwd-file, no TLS, everything (sockets, state, log, mail) in a fresh
folder that is removed afterwards. Dovecot refuses to keep mail as root: run as root (CI, this
machine), its processes and the mail belong to the ``dovecot`` system user; run as anyone else,
to that user. The master process is stopped in a ``finally``, so nothing outlives the test.

The tests are skipped, with the reason, only when Dovecot is not installed (``.ci/run``
installs ``dovecot-imapd``).
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mailserver import free_port

DOVECOT = Path("/usr/sbin/dovecot")
USER = "focal"
PASSWORD = "s3cret-for-tests"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    user: str
    password: str
    folder: Path
    master_pid: int
    tls_port: int | None = None  # IMAPS (implicit TLS), when started with a certificate

    def process_ids(self) -> set[int]:
        """The master and the processes it started (log, auth, imap-login, imap, ...)."""
        out = {self.master_pid}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.master_pid:
                    out.add(int(stat.parent.name))
        return out

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        """Deliver *raw* into *mailbox* (created if missing), as an MTA would."""
        conn = self.connect()
        try:
            conn.create(_quote(mailbox))  # NO when it exists already: fine
            typ, answer = conn.append(_quote(mailbox), None, None, raw)
            assert typ == "OK", answer
        finally:
            conn.logout()

    def messages(self, mailbox: str = "INBOX") -> list[bytes]:
        """The messages in *mailbox*, oldest first, without marking them read; [] if it does not exist."""
        conn = self.connect()
        try:
            typ, _data = conn.select(_quote(mailbox), readonly=True)
            if typ != "OK":
                return []
            _typ, found = conn.uid("SEARCH", "ALL")
            out = []
            for uid in found[0].decode().split():
                _typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                out.extend(item[1] for item in data if isinstance(item, tuple))
            return out
        finally:
            conn.logout()

    def folders(self) -> list[str]:
        conn = self.connect()
        try:
            _typ, listed = conn.list()
            names = [re.match(r'^\(.*?\) (?:NIL|"(?:[^"\\]|\\.)*") (.*)$', item.decode()) for item in listed
                     if isinstance(item, bytes)]
            return sorted(m[1].strip('"') for m in names if m)
        finally:
            conn.logout()


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _accounts() -> tuple[str, str, str, int, int]:
    """internal user, login user, group, mail uid, mail gid."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(os.getegid()).gr_name
        return me.pw_name, me.pw_name, group, me.pw_uid, os.getegid()
    internal = pwd.getpwnam("dovecot") if _has_user("dovecot") else pwd.getpwnam("nobody")
    login = "dovenull" if _has_user("dovenull") else internal.pw_name
    return internal.pw_name, login, grp.getgrgid(internal.pw_gid).gr_name, internal.pw_uid, internal.pw_gid


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _config(folder: Path, port: int, capabilities: str | None, tls: tuple[Path, Path] | None = None,
            tls_port: int = 0) -> str:
    internal, login, group, uid, gid = _accounts()
    lines = [
        f"base_dir = {folder}/run",
        f"state_dir = {folder}/state",
        f"log_path = {folder}/dovecot.log",
        "protocols = imap",
        "listen = 127.0.0.1",
        "ssl = no" if tls is None else f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}",
        "disable_plaintext_auth = no",
        "auth_mechanisms = plain login",
        f"mail_location = maildir:{folder}/mail/%u",
        f"default_internal_user = {internal}",
        f"default_internal_group = {group}",
        f"default_login_user = {login}",
        f"first_valid_uid = {uid}",
        f"first_valid_gid = {gid}",
        "passdb {",
        "  driver = passwd-file",
        f"  args = scheme=PLAIN username_format=%u {folder}/passwd",
        "}",
        "userdb {",
        "  driver = static",
        f"  args = uid={uid} gid={gid} home={folder}/mail/%u",
        "}",
        "service imap-login {",
        "  inet_listener imap {",
        "    address = 127.0.0.1",
        f"    port = {port}",
        "  }",
        "  inet_listener imaps {",
        "    address = 127.0.0.1",
        f"    port = {tls_port if tls is not None else 0}",
        "  }",
        "}",
    ]
    if os.geteuid() != 0:  # one unprivileged user runs everything: no chroot, no user switch
        lines += ["service imap-login {", "  chroot =", "}", "service auth {", f"  user = {internal}", "}"]
    if capabilities is not None:  # what the server announces after login (to exercise a client's fallbacks)
        lines.append(f"imap_capability = {capabilities}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def dovecot_server(capabilities: str | None = None, tls: tuple[Path, Path] | None = None) -> Iterator[ImapServer]:
    """Dovecot on 127.0.0.1 for the duration of the block; *capabilities* replaces the list the
    server announces after login (for example ``"IMAP4rev1 UIDPLUS"``: no MOVE); with *tls*
    (certificate and key files) it offers STARTTLS, and IMAPS on ``tls_port``."""
    # not under pytest's tmp_path: its parent is private to the user running the tests, and
    # Dovecot's own processes run as the dovecot user when the tests run as root
    folder = Path(tempfile.mkdtemp(prefix="workplan-dovecot-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        tls_port = free_port() if tls is not None else None
        (folder / "mail").mkdir()
        (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
        conf = folder / "dovecot.conf"
        conf.write_text(_config(folder, port, capabilities, tls, tls_port or 0), encoding="utf-8")
        if os.geteuid() == 0:
            _internal, _login, _group, uid, gid = _accounts()
            for path in (folder, folder / "mail", folder / "passwd"):
                os.chown(path, uid, gid)
        process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        _wait_until_ready(process, port, folder)
        yield ImapServer("127.0.0.1", port, USER, PASSWORD, folder, process.pid, tls_port)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends the master SIGTERM if the test run itself is killed
    (SIGKILL skips every ``finally``), so no Dovecot outlives a run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            log = (folder / "dovecot.log").read_text(errors="replace") if (folder / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited with {process.returncode}: {out}{log}")
        try:
            conn = imaplib.IMAP4("127.0.0.1", port, timeout=2)
        except OSError:
            time.sleep(0.05)
            continue
        conn.logout()
        return
    raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{port} within 15 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master we started (it stops its own children), SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


def require_dovecot() -> None:
    if not DOVECOT.exists():
        pytest.skip(f"{DOVECOT} is not installed (Debian: apt-get install dovecot-imapd; .ci/run installs it)")


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    require_dovecot()
    with dovecot_server() as server:
        yield server
