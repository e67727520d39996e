"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests/it/channels/email.rs.

Usage: smtp_sink.py OUT_DIR USERNAME PASSWORD

Listens on a free loopback port and prints "READY <port>" once it accepts connections. Requires
AUTH (PLAIN or LOGIN, allowed without TLS here) with the given credentials. Every accepted message
is written to OUT_DIR as NNN.eml (the bytes received) and NNN.json, which Python's own e-mail
parser fills: envelope, decoded headers and every MIME leaf part with its decoded text.

Recipients steer the server, to test how the client classifies answers:
  unknown@…   RCPT is refused with 550 5.1.1
  greylist@…  RCPT is refused with 451 4.7.1 (try again later)
  slow@…      the message is stored, but the reply to the end of DATA comes after 5 s

Exits when its standard input closes (the test process is gone).
"""

import asyncio
import email
import email.policy
import json
import logging
import os
import socket
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "unknown":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local == "greylist":
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.out_dir, f"{self.count:03}")
        raw = envelope.original_content or envelope.content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append(
                {
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "transfer_encoding": part.get("Content-Transfer-Encoding"),
                    "content": part.get_content(),
                }
            )
        raw_headers = email.message_from_bytes(raw, policy=email.policy.compat32)
        report = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_login": (
                session.auth_data.login.decode()
                if isinstance(session.auth_data, LoginPassword)
                else None
            ),
            "content_type": msg.get_content_type(),
            "headers": {name: str(value) for name, value in msg.items()},
            "raw_subject": raw_headers["Subject"],
            "parts": parts,
            "defects": [str(d) for d in msg.defects],
        }
        tmp = base + ".json.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(report, f, ensure_ascii=False)
        os.replace(tmp, base + ".json")
        if any(r.lower().startswith("slow@") for r in envelope.rcpt_tos):
            # Accepted, but the reply is late: the client cannot know.
            await asyncio.sleep(5)
        return "250 2.0.0 Ok: queued as %03d" % self.count


def authenticator(username, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


async def main(out_dir, username, password):
    # AUTH without TLS is what this loopback test server is for.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    sink = Sink(out_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            sink,
            hostname="sink.test",
            authenticator=authenticator(username, password),
            auth_required=True,
            auth_require_tls=False,
            enable_SMTPUTF8=True,
        ),
        sock=sock,
    )
    print("READY", sock.getsockname()[1], flush=True)

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
