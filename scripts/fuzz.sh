#!/usr/bin/env bash
# Fuzz the incident parser and the config loader with cargo-fuzz (libFuzzer) for a bounded time
# each. Not part of CI's default path: run it by hand or on a schedule.
#
#   scripts/fuzz.sh [SECONDS per target, default 60] [TARGET…]
#
# Needs a nightly toolchain (cargo-fuzz builds with sanitizer flags) and cargo-fuzz
# (`cargo install --locked cargo-fuzz`). The bad-input corpus in tests/corpus/ seeds both targets.
# A finding is written to fuzz/artifacts/<target>/; reproduce it with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`, then add it to tests/corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_incident fuzz_config)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: no nightly toolchain (rustup toolchain install nightly); the same inputs are" >&2
  echo "checked without libFuzzer by the property tests in tests/it/properties.rs" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

# Seeds: every incident and config of the bad-input corpus.
rm -rf fuzz/seeds
mkdir -p fuzz/seeds/fuzz_incident fuzz/seeds/fuzz_config
n=0
for f in tests/corpus/*/incidents/*; do
  [ -f "$f" ] && cp "$f" "fuzz/seeds/fuzz_incident/$n.md" && n=$((n + 1))
done
n=0
for f in tests/corpus/*/statuscast.yaml; do
  cp "$f" "fuzz/seeds/fuzz_config/$n.yaml" && n=$((n + 1))
done

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target for ${seconds}s"
  # -timeout: an input that takes over 2 s is a finding (a hang); -rss_limit_mb: so is a memory blow-up.
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 -max_len=65536
done
echo "fuzzing found nothing in ${seconds}s per target"
