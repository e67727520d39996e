#!/usr/bin/env python3
"""Interop suite: `statuscast broadcast` against real servers, checked through their own APIs.

scripts/interop.sh installs and starts the servers on 127.0.0.1 and writes their addresses into
a JSON file; this script (standard library only) creates the accounts, copies the demo into a
work folder with a broadcast config pointing at the servers, runs `statuscast broadcast` at
several `--now` moments, and reads back what each server holds (clients.py: accounts and read-back
per server; checks.py: what is checked):

  python3 tests/interop/run.py --bin target/debug/statuscast --servers servers.json --work DIR
  python3 tests/interop/run.py --bin target/debug/statuscast --probe matrix   # channel in this build?

It prints one line per check (`ok`/`FAIL`) and closes with `interop: N passed, N failed`; the exit
code is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ beside the suite in the work tree
from checks import (  # noqa: E402 - after the line above
    LATER,
    MOMENTS,
    Report,
    check_bluesky,
    check_bluesky_session,
    check_email,
    check_matches_ledger,
    check_mastodon,
    check_matrix,
    new_sending_lines,
)
from clients import Bluesky, Email, Mastodon, Matrix  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


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
        self.resolved_by_hand: dict[str, dict] = {}

    def run(self, *args: str, now: str | None = None) -> subprocess.CompletedProcess:
        cmd = [str(self.binary)]
        if now:
            cmd += ["--now", now]
        cmd += list(args)
        proc = subprocess.run(
            cmd, cwd=self.site, env=self.env, capture_output=True, text=True, timeout=180
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
        """Post key (without the channel) → remote of the latest `sent` entry. A post settled by
        hand (`ledger resolve KEY sent`) has no remote in the ledger: the one the suite knows
        from before it made the post in doubt stands in for it."""
        out: dict[str, dict] = {}
        for e in self.ledger():
            base, _, ch = e["key"].rpartition("/")
            if ch == channel and e["state"] == "sent":
                out[base] = e.get("remote") or self.resolved_by_hand.get(e["key"], {})
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
            said = f"{key}/{kind}: in doubt" in proc.stdout + proc.stderr
            rep.check(
                f"{kind}: {key} in doubt is not re-sent but left for a person",
                state in ("sending", "in_doubt") and said and n == counts[kind],
                f"ledger state {state}, reported as in doubt: {said}, server has {n} posts, had {counts[kind]}",
            )
            sc.resolved_by_hand[f"{key}/{kind}"] = remote
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
            again.get("id") == remote.get("id") and n == counts[kind],
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
