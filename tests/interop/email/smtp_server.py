#!/usr/bin/env python3
"""An SMTP submission server for scripts/interop.sh: aiosmtpd on 127.0.0.1, AUTH required (PLAIN
or LOGIN, allowed without TLS since it only listens on loopback), SMTPUTF8 offered, and every
accepted message written to a maildir as received, with the envelope in front of it:

  X-Interop-Mail-From: <envelope sender>
  X-Interop-Rcpt-To: <recipient>, <recipient>
  X-Interop-Auth: <login name>

Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import mailbox
import signal
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class MaildirHandler:
    def __init__(self, maildir: str) -> None:
        self.box = mailbox.Maildir(maildir, create=True)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        head = (
            f"X-Interop-Mail-From: {envelope.mail_from}\r\n"
            f"X-Interop-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
            f"X-Interop-Auth: {login}\r\n"
        ).encode()
        with self.lock:
            self.box.add(head + envelope.original_content)
        return "250 2.0.0 Message accepted for delivery"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    # AUTH without TLS is what this loopback-only test server is for.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    controller = Controller(
        MaildirHandler(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        server_hostname="mail.interop.test",
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
        enable_SMTPUTF8=True,
        decode_data=False,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    print(f"interop: SMTP on 127.0.0.1:{args.port}, maildir {args.maildir}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
