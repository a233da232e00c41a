#!/usr/bin/env bash
# How long sshd waits for `labgate authorized-keys` per login attempt: the helper's whole run
# (process start, HTTPS-capable client set-up, one request, validation, output) against a
# release server on loopback. Prints the median, 95th percentile and peak resident memory.
# Usage: bench/helper-latency.sh [RUNS]   (default 200)
#        LABGATE_BIN=path bench/helper-latency.sh   (that binary; nothing is built)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"
if [[ -n "${LABGATE_BIN:-}" ]]; then
    bin="$(realpath "$LABGATE_BIN")"
else
    cargo build --release --locked --quiet
    bin="$PWD/target/release/labgate"
fi
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --port "$port" --data "$work/data" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/alive" >/dev/null && break; sleep 0.05; done

out=$("$bin" deployment add --type ur5e --host 127.0.0.1 --data "$work/data")
id=$(sed -n 's/^id: //p' <<<"$out")
install -m 600 /dev/null "$work/credential"
sed -n 's/^credential: //p' <<<"$out" >"$work/credential"

args=(authorized-keys --url "http://127.0.0.1:$port" --deployment "$id" --credential-file "$work/credential" root)
for ((i = 0; i < runs; i++)); do
    start=$(date +%s%N)
    "$bin" "${args[@]}" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000 ))
done | sort -n >"$work/us"
median=$(sed -n "$(( (runs + 1) / 2 ))p" "$work/us")
p95=$(sed -n "$(( (runs * 95 + 99) / 100 ))p" "$work/us")
rss=$(/usr/bin/time -f %M "$bin" "${args[@]}" 2>&1 >/dev/null | tail -1)
echo "authorized-keys helper, $runs runs: median ${median} us, p95 ${p95} us, peak RSS ${rss} KiB"
