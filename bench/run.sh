#!/usr/bin/env bash
# The statuscast benchmark: generates 1 000, 10 000 and 30 000 incidents with gen-incidents and
# measures full builds, a cron tick with nothing due, `check`, the output, an incremental rebuild
# after editing one incident, and the fan-out of one update to 8 slow channels.
# Writes bench/RESULTS.md. Not part of CI (it takes minutes); see README.md, "Performance".
#
#   bash bench/run.sh                 # all sizes, 3 runs each (the best is reported)
#   SIZES="1000 10000" RUNS=5 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000 10000 30000"}
RUNS=${RUNS:-3}
NOW=2026-11-23T10:00:00Z            # the generator's end: results do not depend on the clock
WORK=${BENCH_DIR:-/tmp/statuscast-bench}
MEM=${BENCH_MEM:-/dev/shm}           # a tmpfs, for the cold build without the disk
TIME=/usr/bin/time
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
[ -x "$TIME" ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }

echo "== release build"
cargo build --release --locked --quiet --bins
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
SC=$target/release/statuscast
GEN=$target/release/gen-incidents
mkdir -p "$WORK"
TRASH=$WORK/trash   # old output trees, deleted when the benchmark ends (see the cold build)
trap 'rm -rf "$TRASH"; date +%s >"$WORK/.deleted"' EXIT
# Inodes freed by a previous run's clean-up are not reused for up to 6 minutes on ext4 without a
# journal (`recently_deleted`: 60 s, 300 s more while the inode table is not written back).
if [ -f "$WORK/.deleted" ]; then
  wait=$(($(cat "$WORK/.deleted") + 360 - $(date +%s)))
  if [ "$wait" -gt 0 ]; then
    echo "== waiting ${wait} s: the last run deleted its output trees, which would slow the cold build"
    sleep "$wait"
  fi
fi

# run_timed OUT_PREFIX CMD...: runs CMD, appends "wall user sys maxrss_kb" to OUT_PREFIX.times
# (wall to the millisecond from the clock: GNU time rounds it to 10 ms)
run_timed() {
  local out=$1; shift
  local start end
  start=$(date +%s%N)
  "$TIME" -f "%U %S %M" -o "$out.one" "$@" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 1; }
  end=$(date +%s%N)
  echo "$(awk -v ns=$((end - start)) 'BEGIN{printf "%.3f", ns / 1e9}') $(cat "$out.one")" >>"$out.times"
}
# best WALL and peak RSS of a .times file: "min_wall min_cpu max_rss_mb"
best() {
  awk 'NR==1||$1<w{w=$1} NR==1||$2+$3<c{c=$2+$3} $4>m{m=$4} END{printf "%.3f %.3f %.0f", w, c, m/1024}' "$1"
}

rows=()
for n in $SIZES; do
  repo=$WORK/n$n
  if [ ! -f "$repo/statuscast.yaml" ]; then
    echo "== generating $n incidents"
    "$GEN" --n "$n" --seed 1 --out "$repo" --end "$NOW"
  fi
  res=$WORK/results-n$n
  rm -f "$res".*.times
  cd "$repo"
  echo "== n=$n: cold build, output on this disk (no previous output, no cache)"
  for r in $(seq "$RUNS"); do
    # Moved aside, not deleted: on ext4 without a journal the kernel will not reuse an inode freed
    # in the last 60 s (`recently_deleted`), so right after `rm -rf` of the previous tree every new
    # file makes it scan those 10 000 slots, which is the benchmark's cost, not statuscast's. The
    # trash is deleted at the end.
    trash=$TRASH/n$n-$r
    mkdir -p "$trash"
    for d in public .public.* .statuscast/cache; do if [ -e "$d" ]; then mv "$d" "$trash/"; fi; done
    sync   # the previous tree's write-back is not the next build's cost
    run_timed "$res.cold" "$SC" --now "$NOW" build
  done
  echo "== n=$n: cold build, output in memory ($MEM, no cache): the program without the disk"
  for _ in $(seq "$RUNS"); do
    rm -rf "$MEM/statuscast-bench-out" .statuscast/cache
    run_timed "$res.mem" "$SC" --now "$NOW" build --out "$MEM/statuscast-bench-out"
  done
  rm -rf "$MEM/statuscast-bench-out"
  echo "== n=$n: full build (statuscast.yaml changed, so every page and file is made again) and"
  echo "   rebuild after editing one incident, interleaved: the machine's speed drifts within minutes"
  "$SC" --now "$NOW" build >/dev/null   # the spare folder exists from here on, as in daily use
  cp statuscast.yaml "$res.yaml"
  victim=$(find incidents -name '*.md' | sort | sed -n "$((n / 2))p")
  for r in $(seq "$RUNS"); do
    sed -i "s/^  description: \"\(.*\)\"$/  description: \"\1 ($r)\"/" statuscast.yaml
    sync   # each timed build starts with the disk idle: not paying for the last one's write-back
    run_timed "$res.build" "$SC" --now "$NOW" build
    # After a full build the spare still holds the old pages: this build copies them (daily use
    # settles the same way); then one incident is edited.
    "$SC" --now "$NOW" build >/dev/null
    printf '\nEdited for the benchmark (%s).\n' "$r" >>"$victim"
    sync
    run_timed "$res.incr" "$SC" --now "$NOW" build
  done
  # The incremental output must equal a full build of the same files.
  full=$TRASH/n$n-full   # on this disk, kept to the end like the cold builds' trees
  "$SC" --now "$NOW" build --out "$full" >/dev/null
  if diff -r -q public "$full" >/dev/null; then identical=yes; else identical=NO; fi
  git -C "$repo" checkout -q -- "$victim" 2>/dev/null || sed -i '/^Edited for the benchmark/d' "$victim"
  cp "$res.yaml" statuscast.yaml
  "$SC" --now "$NOW" build >/dev/null
  "$SC" --now "$NOW" build >/dev/null
  echo "== n=$n: rebuild with nothing changed"
  for _ in $(seq "$RUNS"); do run_timed "$res.rebuild" "$SC" --now "$NOW" build; done
  echo "== n=$n: cron tick with nothing due (broadcast)"
  "$SC" --now "$NOW" broadcast >/dev/null   # settles the ledger once
  for _ in $(seq $((RUNS + 2))); do run_timed "$res.tick" "$SC" --now "$NOW" broadcast; done
  grep -q "0 sent, 0 failed, 0 in doubt, 0 skipped, 0 waiting" "$res.tick.log" || { echo "bench: the tick was not a no-op:" >&2; cat "$res.tick.log" >&2; exit 1; }
  echo "== n=$n: check"
  for _ in $(seq "$RUNS"); do run_timed "$res.check" "$SC" --now "$NOW" check; done
  out_mb=$(du -sb public | awk '{printf "%.1f", $1/1048576}')
  files=$(find public -type f | wc -l)
  front=$(($(stat -c %s public/index.html) + $(stat -c %s public/style.css)))
  cd - >/dev/null
  read -r bw bc bm <<<"$(best "$res.build.times")"
  read -r mw mc _ <<<"$(best "$res.mem.times")"
  read -r dw dc _ <<<"$(best "$res.cold.times")"
  read -r rw _ _ <<<"$(best "$res.rebuild.times")"
  read -r iw _ _ <<<"$(best "$res.incr.times")"
  read -r tw _ tm <<<"$(best "$res.tick.times")"
  read -r cw _ _ <<<"$(best "$res.check.times")"
  ratio=$(awk -v i="$iw" -v b="$bw" 'BEGIN{printf "%.1f", 100*i/b}')
  ratio_cold=$(awk -v i="$iw" -v b="$dw" 'BEGIN{printf "%.1f", 100*i/b}')
  rows+=("| $n | $bw s ($bc s CPU, $bm MB) | $mw s ($mc s CPU) | $dw s ($dc s CPU) | $rw s | $iw s ($ratio % / $ratio_cold %, identical: $identical) | $tw s ($tm MB) | $cw s | $out_mb MB, $files files | $((front / 1024)) KB |")
  echo "   ${rows[-1]}"
done

# Linear growth, measured with the two sizes side by side: run one after the other, minutes apart,
# the sizes see different machine speeds (this VM's drifts by a third within an hour).
linear=""
if [[ " $SIZES " == *" 10000 "* && " $SIZES " == *" 30000 "* ]]; then
  echo "== linear growth: full builds (config changed) of 10 000 and 30 000, interleaved"
  for n in 10000 30000; do
    cp "$WORK/results-n$n.yaml" "$WORK/n$n/statuscast.yaml"
    rm -f "$WORK/results-n$n.linear.times"
  done
  for r in $(seq "$RUNS"); do
    for n in 10000 30000; do
      cd "$WORK/n$n"
      sed -i "s/^  description: \"\(.*\)\"$/  description: \"\1 (l$r)\"/" statuscast.yaml
      sync
      run_timed "$WORK/results-n$n.linear" "$SC" --now "$NOW" build
      "$SC" --now "$NOW" build >/dev/null
      cd - >/dev/null
    done
  done
  for n in 10000 30000; do
    cp "$WORK/results-n$n.yaml" "$WORK/n$n/statuscast.yaml"
    (cd "$WORK/n$n" && "$SC" --now "$NOW" build >/dev/null)
  done
  read -r l10 _ _ <<<"$(best "$WORK/results-n10000.linear.times")"
  read -r l30 _ _ <<<"$(best "$WORK/results-n30000.linear.times")"
  # Each round ran 10 000 and then 30 000: the ratio within a round sees one machine speed, so
  # the median of the rounds' ratios is the steadiest figure (one lucky run moves a best-of ratio).
  read -r pair cpu <<<"$(paste "$WORK/results-n10000.linear.times" "$WORK/results-n30000.linear.times" | awk '
    function median(v, n,  i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    { n++; w[n] = $5 / $1; c[n] = ($6 + $7) / ($2 + $3) }
    END { printf "%.2f %.2f", median(w, n), median(c, n) }')"
  linear="Linear growth, full builds after a config change run side by side, 10 000 then 30 000 in each of $RUNS rounds: median of the rounds' ratios $pair× (CPU time: $cpu×); best of each, 10 000 in $l10 s and 30 000 in $l30 s: $(awk -v a="$l30" -v b="$l10" 'BEGIN{printf "%.2f", a/b}')×."
  echo "   $linear"
fi

echo "== fan-out: one update to 8 channels that answer in 300 ms each"
fanout=$(cargo test --locked --quiet --test it fan_out -- --nocapture 2>&1 | grep -o 'fan-out: .*' | head -1 || true)
echo "   ${fanout:-not measured}"

cores=$(nproc)
{
  echo "# statuscast benchmark results"
  echo
  echo "Measured by \`bash bench/run.sh\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)"
  echo "on a machine with $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "load average before the run: $LOAD_BEFORE. Best of $RUNS runs (wall time; CPU = user + sys of that run)."
  echo "Data: \`gen-incidents --seed 1\`, \`--now $NOW\`."
  echo
  echo "| incidents | full build: config changed (CPU, peak memory) | cold build, output in tmpfs | cold build, output on disk | rebuild, nothing changed | rebuild after editing one incident (% of the config-changed / of the cold build on disk) | cron tick, nothing due (peak memory) | check | output | index.html + style.css |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Fan-out of one update to 8 channels that each answer after 300 ms: ${fanout#fan-out: }"
  if [ -n "$linear" ]; then
    echo
    echo "$linear"
  fi
  echo
  echo "Generated; the targets and what the profiles showed are in [README.md](README.md)."
} >bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
cat bench/RESULTS.md
