"""What the interop suite checks: what each server holds against statuscast's ledger and the
rules of each service (threads, link facets, mail headers, sessions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import stat
import time
from typing import TYPE_CHECKING

from clients import Bluesky, Email, Mastodon, Matrix

if TYPE_CHECKING:
    from run import Statuscast

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
    ids = {r.get("id") for r in sent.values()}
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
