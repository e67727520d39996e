#!/usr/bin/env python3
"""Interop suite: `statuscast broadcast` against real servers, checked through their own APIs.

scripts/interop.sh installs and starts the servers on 127.0.0.1 and writes their addresses into
a JSON file; this script (standard library only) creates the accounts, copies the demo into a
work folder with a broadcast config pointing at the servers, runs `statuscast broadcast` at
several `--now` moments, and reads back what each server holds:

  python3 tests/interop/run.py --bin target/debug/statuscast --servers servers.json --work DIR
  python3 tests/interop/run.py --bin target/debug/statuscast --probe matrix   # channel in this build?

It prints one line per check (`ok`/`FAIL`) and closes with `interop: N passed, N failed`; the exit
code is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import mailbox
import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The demo's open incident gets its updates at 08:12, 09:05 and 11:40 Berlin time (07:12Z, 08:05Z,
# 10:40Z); the weekly tip is due Mondays 09:00 (08:00Z); two maintenance windows are announced.
MOMENTS = ["2026-11-23T07:15:00Z", "2026-11-23T08:10:00Z", "2026-11-23T10:45:00Z"]
LATER = "2026-11-23T10:50:00Z"
THREAD = "2026-11-23-mobilfunk-sms-hamburg"
TIP = "recurring/tipp-wlan-call@2026-11-23T08:00:00Z"
# What each moment publishes (keys without the channel suffix).
EXPECTED = {
    MOMENTS[0]: {f"{THREAD}#0", "2026-11-26-wartung-dsl-telefonie-sachsen#announce"},
    MOMENTS[1]: {f"{THREAD}#1", TIP},
    MOMENTS[2]: {f"{THREAD}#2", "2026-12-03-wartung-fernwerk-tv-senderliste#announce"},
}
URL_RE = re.compile(r"https?://[^\s]+")


# ---------------------------------------------------------------------------------------------
# Reporting


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok    {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"  FAIL  {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    def crash(self, name: str, err: BaseException) -> None:
        self.check(name, False, f"{type(err).__name__}: {err}")


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


# ---------------------------------------------------------------------------------------------
# The work folder: the demo with a broadcast section for the servers under test


def channel_yaml(kind: str, srv: dict) -> str:
    if kind == "bluesky":
        return f"""    - id: bluesky
      type: bluesky
      service: {srv['url']}
      identifier_env: INTEROP_BLUESKY_HANDLE
      password_env: INTEROP_BLUESKY_APP_PASSWORD
"""
    if kind == "mastodon":
        return f"""    - id: mastodon
      type: mastodon
      instance: {srv['url']}
      token_env: INTEROP_MASTODON_TOKEN
"""
    if kind == "matrix":
        return f"""    - id: matrix
      type: matrix
      homeserver: {srv['url']}
      room: "{srv.get('room', '!probe:localhost')}"
      access_token_env: INTEROP_MATRIX_TOKEN
"""
    if kind == "email":
        return f"""    - id: email
      type: email
      host: 127.0.0.1
      port: {srv.get('port', 25)}
      tls: none
      username_env: INTEROP_SMTP_USER
      password_env: INTEROP_SMTP_PASSWORD
      from: "Fernwerk Störungsinfo <status@fernwerk.example>"
      to: ["Störungs-Verteiler <stoerungen@lists.fernwerk.example>"]
      bcc: [ops@fernwerk.example]
"""
    raise ValueError(kind)


def make_site(work: Path, channels: dict[str, dict]) -> Path:
    site = work / "site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    shutil.copytree(ROOT / "incidents", site / "incidents")
    demo = (ROOT / "statuscast.yaml").read_text(encoding="utf-8")
    head = demo.split("\nbroadcast:", 1)[0]
    broadcast = """
broadcast:
  ledger: .statuscast/ledger.jsonl
  state_dir: .statuscast/private
  max_age: 2h
  service_hours: "Mo-Fr 08:00-20:00, Sa 09:00-16:00"
  channels:
""" + "".join(channel_yaml(k, v) for k, v in channels.items()) + """  recurring:
    - name: tipp-wlan-call
      cron: "0 9 * * 1"
      text: "Tipp der Woche: Schlechter Empfang im Keller? Mit WLAN Call telefonieren Sie über Ihr WLAN weiter – so geht's: https://www.fernwerk.example/hilfe/wlan-call"
"""
    (site / "statuscast.yaml").write_text(head + "\n" + broadcast, encoding="utf-8")
    return site


class Statuscast:
    def __init__(self, binary: Path, site: Path, env: dict[str, str]) -> None:
        self.binary = binary
        self.site = site
        self.env = {**os.environ, **env}

    def run(self, *args: str, now: str | None = None) -> subprocess.CompletedProcess:
        cmd = [str(self.binary)]
        if now:
            cmd += ["--now", now]
        cmd += list(args)
        proc = subprocess.run(
            cmd, cwd=self.site, env=self.env, capture_output=True, text=True, timeout=300
        )
        out = (proc.stdout + proc.stderr).strip()
        print(f"  $ statuscast {' '.join(cmd[1:])}  → exit {proc.returncode}", flush=True)
        for line in out.splitlines():
            print(f"      {line}", flush=True)
        return proc

    @property
    def ledger_path(self) -> Path:
        return self.site / ".statuscast" / "ledger.jsonl"

    def ledger(self) -> list[dict]:
        if not self.ledger_path.exists():
            return []
        return [json.loads(line) for line in self.ledger_path.read_text().splitlines() if line]

    def sent(self, channel: str) -> dict[str, dict]:
        """Post key (without the channel) → remote of the latest `sent` entry."""
        out: dict[str, dict] = {}
        for e in self.ledger():
            base, _, ch = e["key"].rpartition("/")
            if ch == channel and e["state"] == "sent":
                out[base] = e.get("remote") or {}
        return out

    def forget_last_sent(self, channel: str) -> tuple[str, dict] | None:
        """Deletes the last `sent` line of a channel: the state a crash right after the request
        leaves behind (`sending` without a result), so the next run finds the post in doubt."""
        lines = self.ledger_path.read_text().splitlines(keepends=True)
        for i in range(len(lines) - 1, -1, -1):
            e = json.loads(lines[i])
            base, _, ch = e["key"].rpartition("/")
            if ch == channel and e["state"] == "sent":
                del lines[i]
                self.ledger_path.write_text("".join(lines))
                return base, e.get("remote") or {}
        return None


# ---------------------------------------------------------------------------------------------
# Channels: provisioning and reading back what the server holds


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

    def remote_id(self, remote: dict) -> str:
        return remote.get("id", "")

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

    def remote_id(self, remote: dict) -> str:
        return remote.get("id", "")

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

    def remote_id(self, remote: dict) -> str:
        return remote.get("id", "")

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

    def remote_id(self, remote: dict) -> str:
        return remote.get("id", "")


# ---------------------------------------------------------------------------------------------
# Checks shared by every channel


def check_matches_ledger(rep: Report, ch, sc: Statuscast, when: str) -> None:
    """The server holds exactly the posts the ledger says were sent, and what was due is there."""
    name = ch.kind
    try:
        posts = ch.posts()
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        rep.crash(f"{name}: read back after {when}", e)
        return
    sent = sc.sent(name)
    ids = {ch.remote_id(r) for r in sent.values()}
    expected = set().union(*(keys for m, keys in EXPECTED.items() if m <= when)) if when in EXPECTED else None
    rep.check(
        f"{name}: after {when} the server has exactly the {len(sent)} posts the ledger records",
        set(posts) == ids and len(ids) == len(sent),
        f"server {sorted(posts)} vs ledger {sorted(ids)}",
    )
    if expected is not None:
        rep.check(
            f"{name}: after {when} every due post was sent",
            set(sent) == expected,
            f"sent {sorted(sent)}, expected {sorted(expected)}",
        )


def new_sending_lines(before: list[dict], after: list[dict], channel: str) -> list[str]:
    return [e["key"] for e in after[len(before):] if e["state"] == "sending" and e["key"].endswith("/" + channel)]


# ---------------------------------------------------------------------------------------------
# Channel-specific checks


def check_bluesky(rep: Report, ch: Bluesky, sc: Statuscast) -> None:
    posts = ch.posts()
    sent = sc.sent("bluesky")
    by_key = {k: posts.get(r.get("id", "")) for k, r in sent.items()}
    missing = [k for k, p in by_key.items() if p is None]
    if not rep.check("bluesky: every sent post is a record in the repo", not missing, f"missing {missing}"):
        return
    for key, rec in sorted(by_key.items()):
        v = rec["value"]
        text = v["text"]
        raw = text.encode("utf-8")
        problems = []
        if v.get("$type") != "app.bsky.feed.post":
            problems.append(f"$type {v.get('$type')!r}")
        if v.get("langs") != ["de"]:
            problems.append(f"langs {v.get('langs')!r}")
        if len(text) > 300 or len(raw) > 3000:
            problems.append(f"{len(text)} characters / {len(raw)} bytes")
        if sent[key].get("cid") != rec["cid"]:
            problems.append(f"ledger cid {sent[key].get('cid')} but record cid {rec['cid']}")
        rep.check(f"bluesky: {key} is a valid post (type, language, length, cid)", not problems, "; ".join(problems))

        urls = URL_RE.findall(text)
        facets = v.get("facets") or []
        links = []
        bad = []
        for f in facets:
            i = f["index"]
            span = raw[i["byteStart"]:i["byteEnd"]].decode("utf-8", errors="replace")
            for feat in f["features"]:
                if feat.get("$type") == "app.bsky.richtext.facet#link":
                    links.append(feat["uri"])
                    if span != feat["uri"]:
                        bad.append(f"bytes {i['byteStart']}..{i['byteEnd']} are {span!r}, not {feat['uri']!r}")
        rep.check(
            f"bluesky: {key} has a link facet on the exact bytes of each URL",
            urls and not bad and sorted(links) == sorted(urls),
            "; ".join(bad) or f"facet links {links} vs URLs in the text {urls}",
        )

    # The incident's updates form one thread: root = first post, parent = the previous one.
    thread = [by_key.get(f"{THREAD}#{i}") for i in range(3)]
    if rep.check("bluesky: the incident's three updates are posted", all(thread)):
        ref = lambda r: {"uri": r["uri"], "cid": r["cid"]}  # noqa: E731
        root, first, second = thread
        rep.check("bluesky: the first update is not a reply", "reply" not in root["value"])
        for rec, parent, label in ((first, root, "#1"), (second, first, "#2")):
            reply = rec["value"].get("reply", {})
            rep.check(
                f"bluesky: update {label} replies with root = first update and parent = previous update",
                reply.get("root") == ref(root) and reply.get("parent") == ref(parent),
                f"reply is {reply}",
            )
    others = [k for k in by_key if not k.startswith(THREAD) and "reply" in by_key[k]["value"]]
    rep.check("bluesky: announcements and the weekly tip are not replies", not others, f"{others}")


def check_bluesky_session(rep: Report, ch: Bluesky, sc: Statuscast, secret: str) -> None:
    logins = ch.logins()
    rep.check(
        "bluesky: all runs shared one login (the PDS issued one session for the app password)",
        len(logins) == 1,
        f"{len(logins)} sessions: {logins}",
    )
    caches = list((sc.site / ".statuscast" / "private").glob("bluesky-session-*.json"))
    if not rep.check("bluesky: the session is cached in state_dir", len(caches) == 1, f"{caches}"):
        return
    cache = caches[0]
    mode = stat.S_IMODE(cache.stat().st_mode)
    body = cache.read_text()
    rep.check(
        "bluesky: the session cache is private (0600) and holds no password",
        mode == 0o600 and ch.app_password not in body,
        f"mode {oct(mode)}",
    )
    # An expired access token (signed with the PDS's own secret, so the PDS answers ExpiredToken)
    # must be refreshed with refreshSession, not replaced by a new login.
    data = json.loads(body)
    data["accessJwt"] = expired_jwt(data["accessJwt"], secret)
    cache.write_text(json.dumps(data))
    proc = sc.run("channels", "check")
    rep.check("bluesky: `channels check` with an expired access token succeeds", proc.returncode == 0)
    after = ch.logins()
    rotated = [t for t in after if t[1]]
    rep.check(
        "bluesky: the expired token was refreshed (refreshSession), not replaced by a new login",
        len(after) == 2 and len(rotated) == 1 and rotated[0][1] in {t[0] for t in after},
        f"sessions {after}",
    )
    refreshed = json.loads(cache.read_text())
    rep.check(
        "bluesky: the refreshed session is written back to the cache",
        refreshed["accessJwt"] != data["accessJwt"] and refreshed["refreshJwt"] != data["refreshJwt"],
    )


def expired_jwt(token: str, secret: str) -> str:
    """The same access token, expired an hour ago, signed HS256 with the PDS's JWT secret."""
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    claims["iat"], claims["exp"] = now - 7200, now - 3600
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    signing_input = f"{header}.{enc(json.dumps(claims, separators=(',', ':')).encode())}"
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{enc(sig)}"


def check_mastodon(rep: Report, ch: Mastodon, sc: Statuscast) -> None:
    posts = ch.posts()
    sent = sc.sent("mastodon")
    by_key = {k: posts.get(r.get("id", "")) for k, r in sent.items()}
    missing = [k for k, p in by_key.items() if p is None]
    if not rep.check("mastodon: every sent post is a status of the account", not missing, f"missing {missing}"):
        return
    for key, st in sorted(by_key.items()):
        problems = []
        if st.get("language") != "de":
            problems.append(f"language {st.get('language')!r}")
        if st.get("visibility") != "public":
            problems.append(f"visibility {st.get('visibility')!r}")
        text = ch.source(st["id"])
        if not URL_RE.search(text):
            problems.append("no link in the text")
        rep.check(f"mastodon: {key} is public, German and carries its link", not problems, "; ".join(problems))
    thread = [by_key.get(f"{THREAD}#{i}") for i in range(3)]
    if rep.check("mastodon: the incident's three updates are posted", all(thread)):
        root, first, second = thread
        rep.check("mastodon: the first update is not a reply", root.get("in_reply_to_id") is None)
        rep.check(
            "mastodon: each later update replies to the previous one",
            first.get("in_reply_to_id") == root["id"] and second.get("in_reply_to_id") == first["id"],
            f"#1 → {first.get('in_reply_to_id')}, #2 → {second.get('in_reply_to_id')}",
        )
        ancestors = [s["id"] for s in ch.context(second["id"])["ancestors"]]
        rep.check(
            "mastodon: the thread's context is first → second → third update",
            ancestors == [root["id"], first["id"]],
            f"ancestors of #2: {ancestors}",
        )
    others = [k for k in by_key if not k.startswith(THREAD) and by_key[k].get("in_reply_to_id")]
    rep.check("mastodon: announcements and the weekly tip are not replies", not others, f"{others}")


def check_matrix(rep: Report, ch: Matrix, sc: Statuscast) -> None:
    posts = ch.posts()
    sent = sc.sent("matrix")
    by_key = {k: posts.get(r.get("id", "")) for k, r in sent.items()}
    missing = [k for k, p in by_key.items() if p is None]
    if not rep.check("matrix: every sent post is a message in the room", not missing, f"missing {missing}"):
        return
    for key, ev in sorted(by_key.items()):
        c = ev["content"]
        urls = URL_RE.findall(c.get("body", ""))
        html = c.get("formatted_body", "")
        problems = []
        if c.get("msgtype") != "m.text":
            problems.append(f"msgtype {c.get('msgtype')!r}")
        if not urls:
            problems.append("no link in the body")
        if c.get("format") != "org.matrix.custom.html" or any(f'<a href="{u}">' not in html for u in urls):
            problems.append(f"formatted_body without the link(s): {html[:200]!r}")
        rep.check(f"matrix: {key} is a text message with its link clickable in HTML", not problems, "; ".join(problems))
    thread = [by_key.get(f"{THREAD}#{i}") for i in range(3)]
    if rep.check("matrix: the incident's three updates are posted", all(thread)):
        root, first, second = thread
        rep.check("matrix: the first update starts the thread (no relation)", "m.relates_to" not in root["content"])
        for ev, parent, label in ((first, root, "#1"), (second, first, "#2")):
            rel = ev["content"].get("m.relates_to", {})
            rep.check(
                f"matrix: update {label} is in the thread of the first update, replying to the previous one",
                rel.get("rel_type") == "m.thread"
                and rel.get("event_id") == root["event_id"]
                and rel.get("m.in_reply_to", {}).get("event_id") == parent["event_id"],
                f"m.relates_to is {rel}",
            )
        in_thread = ch.thread(root["event_id"])
        rep.check(
            "matrix: the server's /relations lists the two follow-ups in the thread, in order",
            in_thread == [first["event_id"], second["event_id"]],
            f"/relations m.thread of the first update: {in_thread}",
        )
    others = [k for k in by_key if not k.startswith(THREAD) and "m.relates_to" in by_key[k]["content"]]
    rep.check("matrix: announcements and the weekly tip are not in a thread", not others, f"{others}")


def check_email(rep: Report, ch: Email, sc: Statuscast) -> None:
    msgs = ch.messages()
    by_id = {str(m["Message-ID"]): (raw, m) for raw, m in msgs}
    sent = sc.sent("email")
    by_key = {k: by_id.get(r.get("id", "")) for k, r in sent.items()}
    missing = [k for k, p in by_key.items() if p is None]
    if not rep.check("email: every sent post is a message the server accepted", not missing, f"missing {missing}"):
        return
    site_title = "Fernwerk Telekom – Netzstatus"
    for key, (raw, m) in sorted(by_key.items()):
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        problems = []
        if not re.fullmatch(r"<[0-9a-f]{32}@fernwerk\.example>", str(m["Message-ID"])):
            problems.append(f"Message-ID {m['Message-ID']}")
        if not head.isascii():
            problems.append("raw 8-bit bytes in the header (not RFC 2047 encoded)")
        if str(m["From"]) != f"Fernwerk Störungsinfo <{ch.FROM}>":
            problems.append(f"From {str(m['From'])!r}")
        if str(m["To"]) != f"Störungs-Verteiler <{ch.TO}>" or m["Bcc"] is not None:
            problems.append(f"To {str(m['To'])!r}, Bcc {m['Bcc']!r} (Bcc must not be in the header)")
        if set(str(m["X-Interop-Rcpt-To"]).split(", ")) != {ch.TO, ch.BCC} or str(m["X-Interop-Mail-From"]) != ch.FROM:
            problems.append(f"envelope {m['X-Interop-Mail-From']} → {m['X-Interop-Rcpt-To']}")
        if str(m["X-Interop-Auth"]) != ch.srv["user"]:
            problems.append("not sent with the configured login")
        if str(m["Auto-Submitted"]) != "auto-generated":
            problems.append(f"Auto-Submitted {m['Auto-Submitted']!r}")
        rep.check(f"email: {key} has the expected sender, recipients and Message-ID", not problems, "; ".join(problems))

        subject = str(m["Subject"])
        raw_subject = re.search(rb"^Subject:(.*(?:\r?\n[ \t].*)*)", head, re.M | re.I)
        topic = "Mobilfunk und SMS im Raum Hamburg gestört" if key.startswith(THREAD) else None
        ok = subject.startswith(f"[{site_title}] ") and (topic is None or subject == f"[{site_title}] {topic}")
        rep.check(
            f"email: {key} has a UTF-8 subject, RFC 2047-encoded, that decodes to the site and topic",
            ok and raw_subject is not None and b"=?utf-8?" in raw_subject.group(1).lower(),
            f"subject {subject!r}, raw {raw_subject.group(1)[:120] if raw_subject else None!r}",
        )

        parts = [p for p in m.walk() if not p.is_multipart()]
        types = [p.get_content_type() for p in parts]
        plain = next((p for p in parts if p.get_content_type() == "text/plain"), None)
        html = next((p for p in parts if p.get_content_type() == "text/html"), None)
        problems = []
        if m.get_content_type() != "multipart/alternative" or types != ["text/plain", "text/html"]:
            problems.append(f"{m.get_content_type()} with parts {types}")
        else:
            text, markup = plain.get_content(), html.get_content()
            urls = URL_RE.findall(text)
            if plain.get_content_charset() != "utf-8" or html.get_content_charset() != "utf-8":
                problems.append(f"charsets {plain.get_content_charset()}, {html.get_content_charset()}")
            if not urls or any(f'<a href="{u}">' not in markup for u in urls):
                problems.append(f"links {urls} not clickable in the HTML part")
            if "gestört" not in text and key.startswith(THREAD):
                problems.append("umlauts lost in the text part")
            if re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", markup)).find(text.split(" https://")[0][:60]) < 0:
                problems.append("the HTML part does not carry the same text")
        rep.check(f"email: {key} is multipart/alternative with a text and an HTML part that agree", not problems, "; ".join(problems))

    thread = [by_key.get(f"{THREAD}#{i}") for i in range(3)]
    if rep.check("email: the incident's three updates were sent", all(thread)):
        (_, root), (_, first), (_, second) = thread
        ids = [str(x["Message-ID"]) for x in (root, first, second)]
        rep.check(
            "email: the first update has no In-Reply-To or References",
            root["In-Reply-To"] is None and root["References"] is None,
        )
        rep.check(
            "email: update #1 has In-Reply-To and References = the first update",
            str(first["In-Reply-To"]) == ids[0] and str(first["References"]).split() == [ids[0]],
            f"In-Reply-To {first['In-Reply-To']}, References {first['References']}",
        )
        rep.check(
            "email: update #2 has In-Reply-To = update #1 and References = first and previous update",
            str(second["In-Reply-To"]) == ids[1] and str(second["References"]).split() == ids[:2],
            f"In-Reply-To {second['In-Reply-To']}, References {second['References']}",
        )
        rep.check(
            "email: the three updates share one subject",
            len({str(x["Subject"]) for x in (root, first, second)}) == 1,
        )
    others = [k for k, (_, m) in by_key.items() if not k.startswith(THREAD) and m["In-Reply-To"] is not None]
    rep.check("email: announcements and the weekly tip are not replies", not others, f"{others}")


# ---------------------------------------------------------------------------------------------


def probe(binary: Path, kind: str) -> int:
    """Exit 0 if this build knows the channel type (a config with it passes `check`), else 3."""
    with tempfile.TemporaryDirectory() as tmp:
        site = make_site(Path(tmp), {kind: {"url": "http://127.0.0.1:9", "port": 9}})
        proc = subprocess.run([str(binary), "check"], cwd=site, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            print(" ".join((proc.stdout + proc.stderr).split())[:300], file=sys.stderr)
        return 0 if proc.returncode == 0 else 3


CLIENTS = {"bluesky": Bluesky, "mastodon": Mastodon, "matrix": Matrix, "email": Email}
CHECKS = {"bluesky": check_bluesky, "mastodon": check_mastodon, "matrix": check_matrix, "email": check_email}
# Channels that never re-send a post in doubt: a person settles it with `ledger resolve`.
NOT_IDEMPOTENT = {"email"}


def scenario(rep: Report, servers: dict, work: Path, binary: Path) -> None:
    clients = {k: CLIENTS[k](v) for k, v in servers.items()}
    print("== accounts", flush=True)
    env: dict[str, str] = {}
    for kind, ch in list(clients.items()):
        try:
            env.update(ch.provision())
            rep.check(f"{kind}: account ready", True)
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            rep.crash(f"{kind}: account ready", e)
            del clients[kind]
    if not clients:
        return
    sc = Statuscast(binary, make_site(work, {k: servers[k] for k in clients}), env)

    print("== broadcast at each moment", flush=True)
    for now in MOMENTS:
        proc = sc.run("broadcast", now=now)
        rep.check(f"broadcast at {now} exits 0", proc.returncode == 0, f"exit {proc.returncode}")
        for ch in clients.values():
            check_matches_ledger(rep, ch, sc, now)

    print("== a rerun adds nothing", flush=True)
    before = sc.ledger()
    counts = {k: len(ch.posts()) for k, ch in clients.items()}
    for now in (MOMENTS[-1], LATER):
        proc = sc.run("broadcast", now=now)
        rep.check(f"rerun at {now} exits 0", proc.returncode == 0, f"exit {proc.returncode}")
    after = sc.ledger()
    for kind, ch in clients.items():
        resent = new_sending_lines(before, after, kind)
        n = len(ch.posts())
        rep.check(
            f"{kind}: reruns sent nothing and the server still has {counts[kind]} posts",
            not resent and n == counts[kind],
            f"sent again {resent}, server has {n}",
        )

    print("== a post in doubt (the run died after its request) is not duplicated", flush=True)
    forgotten = {k: sc.forget_last_sent(k) for k in clients}
    proc = sc.run("broadcast", now=LATER)
    doubtful = sorted(k for k in clients if k in NOT_IDEMPOTENT)
    rep.check(
        f"broadcast with posts in doubt exits {1 if doubtful else 0}"
        + (f" ({', '.join(doubtful)} wait for a person)" if doubtful else ""),
        proc.returncode == (1 if doubtful else 0),
        f"exit {proc.returncode}",
    )
    for kind, ch in clients.items():
        key, remote = forgotten[kind]
        n = len(ch.posts())
        if kind in NOT_IDEMPOTENT:
            state = [e["state"] for e in sc.ledger() if e["key"] == f"{key}/{kind}"][-1]
            rep.check(
                f"{kind}: {key} in doubt is not re-sent but left for a person",
                state == "in_doubt" and n == counts[kind] and "in doubt" in proc.stdout + proc.stderr,
                f"ledger state {state}, server has {n} posts, had {counts[kind]}",
            )
            res = sc.run("ledger", "resolve", f"{key}/{kind}", "sent", now=LATER)
            again = sc.run("broadcast", now=LATER)
            rep.check(
                f"{kind}: after `ledger resolve … sent` the next run is clean and sends nothing",
                res.returncode == 0 and again.returncode == 0 and len(ch.posts()) == counts[kind],
                f"resolve exit {res.returncode}, broadcast exit {again.returncode}",
            )
            continue
        again = sc.sent(kind).get(key, {})
        rep.check(
            f"{kind}: {key} in doubt was settled as the same post, nothing duplicated",
            ch.remote_id(again) == ch.remote_id(remote) and n == counts[kind],
            f"before {remote}, after {again}; server has {n} posts, had {counts[kind]}",
        )
        if kind == "bluesky":
            rep.check(
                "bluesky: the post in doubt was looked up, not rewritten (its cid, which replies point at, is unchanged)",
                again.get("cid") == remote.get("cid"),
                f"{remote.get('cid')} → {again.get('cid')}",
            )

    print("== what each server holds", flush=True)
    for kind, ch in clients.items():
        try:
            CHECKS[kind](rep, ch, sc)
        except Exception as e:  # noqa: BLE001
            rep.crash(f"{kind}: reading back the posts", e)
    if "bluesky" in clients:
        try:
            check_bluesky_session(rep, clients["bluesky"], sc, servers["bluesky"]["jwt_secret"])
        except Exception as e:  # noqa: BLE001
            rep.crash("bluesky: session checks", e)
    proc = sc.run("channels", "check")
    rep.check("`channels check` signs in to every channel", proc.returncode == 0, f"exit {proc.returncode}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, type=Path, help="the statuscast binary")
    ap.add_argument("--servers", type=Path, help="JSON written by scripts/interop.sh")
    ap.add_argument("--work", type=Path, help="work folder (the demo copy goes into site/)")
    ap.add_argument("--skipped", type=int, default=0, help="servers the script skipped (for the summary)")
    ap.add_argument("--not-started", type=int, default=0, help="servers that failed to start (counted as failed)")
    ap.add_argument("--probe", help="only check whether this build has a channel type")
    args = ap.parse_args()
    binary = args.bin.resolve()
    if args.probe:
        return probe(binary, args.probe)

    rep = Report()
    try:
        servers = json.loads(args.servers.read_text())
        unknown = set(servers) - set(CLIENTS)
        if unknown or not servers:
            raise ValueError(f"no or unknown servers in {args.servers}: {sorted(unknown)}")
        scenario(rep, servers, args.work, binary)
    except Exception as e:  # noqa: BLE001 - a server that dies mid-run is a failure, not a traceback
        rep.crash("interop scenario", e)
    skipped = f", {args.skipped} skipped" if args.skipped else ""
    failed = len(rep.failed) + args.not_started
    print(f"interop: {rep.passed} passed, {failed} failed{skipped}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
