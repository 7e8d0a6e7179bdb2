#!/usr/bin/env bash
# The load benchmark: cold start, memory, throughput against a bare axum ceiling,
# ten thousand launches in flight, the run history over thousands of records, binary and
# image size. Builds the release binary and the two benchmark programs, installs wrk (and GNU
# time) when missing, then hands over to loadbench (bench/src/),
# which starts, measures and stops every process and writes the figures into BENCHMARKS.md.
#
# Usage: bench/run.sh            full run (about 10 minutes after the build), writes BENCHMARKS.md
#        bench/run.sh --smoke    every measurement, tiny (under a minute after the build); prints
#                                the figures and fails only if a measurement does not work
#        bench/run.sh --only cold,throughput,inflight,history,size   (and other loadbench run flags)
#
# This script starts no process of its own in the background: it ends by exec-ing loadbench,
# which kills every process it started by pid on exit, on an error and on SIGINT/SIGTERM/SIGHUP.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench/run.sh: installing wrk (Debian package)" >&2
    apt-get update -qq
    apt-get install -y -qq wrk >/dev/null
  fi
  if ! command -v wrk >/dev/null 2>&1; then
    echo "error: the load generator wrk is not installed; on Debian: apt-get install wrk" >&2
    exit 1
  fi
fi
# GNU time gives the peak RSS of `notebook-trigger runs` (the history part).
if [ ! -x /usr/bin/time ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench/run.sh: installing GNU time (Debian package)" >&2
  apt-get update -qq
  apt-get install -y -qq time >/dev/null
fi
for tool in taskset strip; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool is needed (util-linux, binutils)" >&2
    exit 1
  fi
done

# The service exactly as the Dockerfile builds it; the benchmark programs in a build of their own,
# since building them together would unify their dependencies' features into that binary.
cargo build --release --locked
cargo build --release --locked -p loadbench

exec target/release/loadbench run \
  --service target/release/notebook-trigger \
  --ceiling target/release/bare_axum \
  --wrk-script bench/push.lua \
  "$@"
