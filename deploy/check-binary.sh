#!/usr/bin/env bash
# Checks that the release binary runs on gcr.io/distroless/cc-debian12, where no Docker engine
# is at hand to try it: the only shared libraries it may need are glibc's and libgcc's (all the
# cc image has), no glibc symbol newer than Debian 12's 2.36, and TLS roots read from the
# system store (the image ships /etc/ssl/certs/ca-certificates.crt) rather than bundled.
#
# Usage: deploy/check-binary.sh [BINARY]   (default: builds target/release/notebook-trigger)
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${1:-}
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=target/release/notebook-trigger
fi
[ -x "$binary" ] || { echo "error: $binary is not an executable" >&2; exit 1; }

# What gcr.io/distroless/cc-debian12 provides (its libc6 and libgcc-s1 packages).
allowed=" libc.so.6 libm.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 "
failed=0

needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo "$needed" | tr '\n' ' ')"
for lib in $needed; do
  case "$allowed" in
    *" $lib "*) ;;
    *) echo "FAIL: $binary needs $lib, which distroless/cc does not have" >&2; failed=1 ;;
  esac
done

newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
echo "newest glibc symbol version: ${newest:-none}"
if [ -n "$newest" ] && [ "$(printf '%s\n2.36\n' "$newest" | sort -V | tail -n 1)" != "2.36" ]; then
  echo "FAIL: needs glibc $newest; Debian 12 (distroless cc-debian12) has 2.36" >&2
  failed=1
fi

# TLS roots: no crate that bundles a root store, and the binary carries the system paths
# where rustls-native-certs (through openssl-probe) looks for them.
if cargo tree --locked --edges normal --invert webpki-roots >/dev/null 2>&1; then
  echo "FAIL: webpki-roots is in the dependency tree: roots would be bundled, not read from the image" >&2
  failed=1
else
  echo "no bundled root store (webpki-roots is not a dependency)"
fi
if grep -a -q '/etc/ssl/certs' "$binary"; then
  echo "the binary looks for CA certificates under /etc/ssl/certs (present in distroless/cc)"
else
  echo "FAIL: the binary does not refer to /etc/ssl/certs: where would it find TLS roots?" >&2
  failed=1
fi

# It starts and parses its command line without a shell, a config or a network.
"$binary" --version
"$binary" scheduler plan --help >/dev/null

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "ok: $binary fits gcr.io/distroless/cc-debian12"
