"""The servers of the interop suite as statuscast's counterparts: creating the account each one
posts with, and reading back through the server's own API what it holds."""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import hashlib
import hmac
import json
import mailbox
import os
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


# ---------------------------------------------------------------------------------------------
# HTTP


class HttpError(Exception):
    def __init__(self, status: int, body: str, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")
        self.status = status
        self.body = body


def http(method: str, url: str, body=None, token: str | None = None, headers=None):
    data = None
    hdrs = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read().decode()
    except urllib.error.HTTPError as e:
        raise HttpError(e.code, e.read().decode(errors="replace"), url) from None
    return json.loads(raw) if raw else None



class Bluesky:
    """A real PDS (@atproto/pds) with a did:plc directory (@did-plc/server)."""

    kind = "bluesky"

    def __init__(self, srv: dict) -> None:
        self.srv = srv
        self.url = srv["url"]
        self.handle = "fernwerk.test"
        self.did = ""
        self.app_password = ""

    def provision(self) -> dict[str, str]:
        acct = http(
            "POST",
            f"{self.url}/xrpc/com.atproto.server.createAccount",
            {
                "handle": self.handle,
                "email": "social@fernwerk.example",
                "password": base64.urlsafe_b64encode(os.urandom(18)).decode(),
            },
        )
        self.did = acct["did"]
        app = http(
            "POST",
            f"{self.url}/xrpc/com.atproto.server.createAppPassword",
            {"name": "statuscast"},
            token=acct["accessJwt"],
        )
        self.app_password = app["password"]
        return {"INTEROP_BLUESKY_HANDLE": self.handle, "INTEROP_BLUESKY_APP_PASSWORD": self.app_password}

    def posts(self) -> dict[str, dict]:
        """uri → {cid, value} of every post in the account's repo."""
        out: dict[str, dict] = {}
        cursor = None
        while True:
            q = {"repo": self.did, "collection": "app.bsky.feed.post", "limit": "100"}
            if cursor:
                q["cursor"] = cursor
            page = http("GET", f"{self.url}/xrpc/com.atproto.repo.listRecords?{urllib.parse.urlencode(q)}")
            for r in page["records"]:
                out[r["uri"]] = r
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return out

    def logins(self) -> list[tuple]:
        """Sessions of the app password, from the PDS's own account database (read-only):
        (id, nextId) per refresh token. createSession adds a token; refreshSession rotates one
        (the old token's nextId names the new one)."""
        db = Path(self.srv["data_dir"]) / "account.sqlite"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute(
                "select id, nextId from refresh_token where did = ? and appPasswordName = ?",
                (self.did, "statuscast"),
            ).fetchall()
        finally:
            con.close()


class Mastodon:
    """mastodon-mock (PyPI), a stateful mock of the Mastodon REST API."""

    kind = "mastodon"

    def __init__(self, srv: dict) -> None:
        self.url = srv["url"]
        self.token = srv["token"]
        self.account_id = ""

    def provision(self) -> dict[str, str]:
        me = http("GET", f"{self.url}/api/v1/accounts/verify_credentials", token=self.token)
        self.account_id = me["id"]
        return {"INTEROP_MASTODON_TOKEN": self.token}

    def posts(self) -> dict[str, dict]:
        """status id → status, every status of the account."""
        out: dict[str, dict] = {}
        max_id = None
        while True:
            q = {"limit": "40"}
            if max_id:
                q["max_id"] = max_id
            page = http(
                "GET",
                f"{self.url}/api/v1/accounts/{self.account_id}/statuses?{urllib.parse.urlencode(q)}",
                token=self.token,
            )
            for s in page:
                out[s["id"]] = s
            if len(page) < 40:
                return out
            max_id = page[-1]["id"]

    def source(self, status_id: str) -> str:
        return http("GET", f"{self.url}/api/v1/statuses/{status_id}/source", token=self.token)["text"]

    def context(self, status_id: str) -> dict:
        return http("GET", f"{self.url}/api/v1/statuses/{status_id}/context", token=self.token)


class Matrix:
    """Synapse (PyPI matrix-synapse) on SQLite."""

    kind = "matrix"

    def __init__(self, srv: dict) -> None:
        self.srv = srv
        self.url = srv["url"]
        self.token = ""
        self.user_id = ""
        self.room_id = ""
        self.alias = "#netzstatus:localhost"

    def provision(self) -> dict[str, str]:
        # Shared-secret registration (Synapse's admin API), then a room with an alias.
        reg = f"{self.url}/_synapse/admin/v1/register"
        nonce = http("GET", reg)["nonce"]
        user, password = "netzstatus", base64.urlsafe_b64encode(os.urandom(18)).decode()
        mac = hmac.new(
            self.srv["shared_secret"].encode(),
            b"\x00".join(x.encode() for x in (nonce, user, password, "notadmin")),
            hashlib.sha1,
        ).hexdigest()
        acct = http("POST", reg, {"nonce": nonce, "username": user, "password": password, "admin": False, "mac": mac})
        self.token, self.user_id = acct["access_token"], acct["user_id"]
        room = http(
            "POST",
            f"{self.url}/_matrix/client/v3/createRoom",
            {"name": "Fernwerk Netzstatus", "room_alias_name": "netzstatus", "preset": "public_chat"},
            token=self.token,
        )
        self.room_id = room["room_id"]
        self.srv["room"] = self.alias
        return {"INTEROP_MATRIX_TOKEN": self.token}

    def _room(self) -> str:
        return urllib.parse.quote(self.room_id, safe="")

    def posts(self) -> dict[str, dict]:
        """event id → event, every m.room.message the account sent into the room."""
        out: dict[str, dict] = {}
        start = None
        while True:
            q = {"dir": "b", "limit": "100"}
            if start:
                q["from"] = start
            page = http(
                "GET",
                f"{self.url}/_matrix/client/v3/rooms/{self._room()}/messages?{urllib.parse.urlencode(q)}",
                token=self.token,
            )
            for ev in page.get("chunk", []):
                if ev["type"] == "m.room.message" and ev["sender"] == self.user_id:
                    out[ev["event_id"]] = ev
            start = page.get("end")
            if not start or not page.get("chunk"):
                return out

    def thread(self, root_id: str) -> list[str]:
        """Event ids in the thread of `root_id`, oldest first (the relations API, m.thread)."""
        q = urllib.parse.urlencode({"dir": "f", "limit": "100"})
        page = http(
            "GET",
            f"{self.url}/_matrix/client/v1/rooms/{self._room()}/relations/"
            f"{urllib.parse.quote(root_id, safe='')}/m.thread?{q}",
            token=self.token,
        )
        return [ev["event_id"] for ev in page["chunk"]]


class Email:
    """aiosmtpd (PyPI) with AUTH, writing every message to a maildir (tests/interop/email)."""

    kind = "email"
    FROM = "status@fernwerk.example"
    TO = "stoerungen@lists.fernwerk.example"
    BCC = "ops@fernwerk.example"

    def __init__(self, srv: dict) -> None:
        self.srv = srv

    def provision(self) -> dict[str, str]:
        return {"INTEROP_SMTP_USER": self.srv["user"], "INTEROP_SMTP_PASSWORD": self.srv["password"]}

    def messages(self) -> list[tuple[bytes, email.message.EmailMessage]]:
        """(raw bytes, parsed message) of every message the server accepted."""
        box = mailbox.Maildir(self.srv["maildir"], create=False)
        out = []
        for key in sorted(box.keys()):
            raw = box.get_bytes(key)
            out.append((raw, email.message_from_bytes(raw, policy=email.policy.default)))
        return out

    def posts(self) -> dict[str, object]:
        """Message-ID → message; a Message-ID that arrived twice shows up as an extra entry."""
        msgs = self.messages()
        out = {str(m["Message-ID"]): m for _, m in msgs}
        if len(out) != len(msgs):
            out["<the same Message-ID arrived twice>"] = None
        return out
