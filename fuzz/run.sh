#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS each (default 960 = 16 min), one core.
# Needs the nightly toolchain and cargo-fuzz: `cargo install cargo-fuzz`.
# Crashes land in fuzz/artifacts/<target>/; the log of each run in fuzz/logs/.
set -u
cd "$(dirname "$0")"
seconds=${1:-960}
shift || true
targets=${*:-"decode_v1 decode_v2 decode_json caveat_parse verify http_body"}
[ -d corpus ] || python3 seed.py
mkdir -p logs
for t in $targets; do
  echo "== $t for ${seconds}s"
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 >"logs/$t.log" 2>&1
  echo "   exit $? — $(grep -E '^#[0-9]+.*(DONE|pulse)' "logs/$t.log" | tail -1)"
done
