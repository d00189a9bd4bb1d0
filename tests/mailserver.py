"""A real SMTP server on loopback (aiosmtpd) that records what it accepted, and can misbehave."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Recorder:
    """Accepts every message, unless told to misbehave from its `accept`-th message on:

    - ``after_accept="451"``: answer the end of the message with 451 (try again later);
    - ``"drop-at-mail"``: close the connection when the next message begins (MAIL FROM);
    - ``"drop-after-data"``: take the whole message, keep it, and close without answering;
    - ``"slow-after-data"``: take the whole message, keep it, and answer too late;
    - ``"hang"``: take the whole message, keep it, and answer only after 20 seconds.
    """

    accept: int | None = None
    after_accept: str = ""
    reject: set[str] = field(default_factory=set)  # recipients answered with 550
    delivered: list[Delivered] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _misbehaving(self) -> bool:
        return self.accept is not None and len(self.delivered) >= self.accept

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self._misbehaving() and self.after_accept == "drop-at-mail":
            server.transport.close()
            return "421 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.reject:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._misbehaving():
            if self.after_accept == "451":
                return "451 4.3.0 Try again later"
            if self.after_accept == "drop-after-data":
                self._keep(envelope)
                server.transport.close()
                return "250 never heard"
            if self.after_accept == "slow-after-data":
                self._keep(envelope)
                await asyncio.sleep(3)
                return "250 too late"
            if self.after_accept == "hang":
                self._keep(envelope)
                await asyncio.sleep(20)
                return "250 much too late"
        self._keep(envelope)
        return "250 OK"

    def _keep(self, envelope: Any) -> None:
        with self.lock:
            self.delivered.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(recorder: Recorder, port: int | None = None, **options: Any) -> Iterator[int]:
    """The server on loopback; *options* go to aiosmtpd's Controller (TLS, authentication)."""
    controller = Controller(recorder, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[int]:
    """A server that takes the connection and never says a word (not even its greeting)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])
