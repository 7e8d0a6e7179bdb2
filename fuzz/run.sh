#!/usr/bin/env bash
# Fuzzes the push decoder (fuzz_targets/push_decode.rs) for FUZZ_SECONDS (default 60).
# cargo-fuzz needs the nightly toolchain; cargo-fuzz itself is installed when missing.
# New inputs go to a scratch corpus under target/, so the committed seeds stay as they are;
# a crash is written to artifacts/push_decode/ and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
case "$seconds" in
  '' | *[!0-9]*)
    echo "error: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 2
    ;;
esac

if ! command -v rustup >/dev/null 2>&1 || ! rustup toolchain list | grep -q '^nightly'; then
  echo "error: fuzzing needs the nightly Rust toolchain, and it is not installed." >&2
  echo "       Install it with: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

scratch=target/corpus/push_decode
mkdir -p "$scratch"
cargo +nightly fuzz run push_decode "$scratch" corpus/push_decode -- \
  -dict="$PWD/push_decode.dict" \
  -max_total_time="$seconds" \
  -print_final_stats=1
