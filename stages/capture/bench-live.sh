#!/usr/bin/env bash
# bench-live.sh - live capture benchmark: nfpipe against tcpdump, in one run.
#
# Replays the generated bench capture with tcpreplay --topspeed into one end
# of a veth pair joined to a second network namespace, while nfpipe (live
# capture -> decode -> sessionize -> discard) and tcpdump -w /dev/null, given
# the same kernel buffer size, both capture the other end. Prints, for each:
# packets offered, captured and dropped, and the offered rate.
#
# Usage (as root):  stages/capture/bench-live.sh
#   PACKETS=1000000 FLOWS=50000  size of the generated capture
#   WORKERS=1                    nfpipe capture workers (tcpdump has one)
#   BACKEND=afpacket             nfpipe capture backend; pcap builds nfpipe
#                                with -tags pcap (needs libpcap-dev) and runs
#                                one worker
#   RING_MB=32                   ring per worker; tcpdump gets WORKERS*RING_MB
#   KEEP=1                       keep the work directory
# Needs: go, iproute2, tcpdump, tcpreplay (installed with apt-get when missing).
# Traffic only flows inside the two namespaces it creates; they are removed
# on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PACKETS=${PACKETS:-1000000}
FLOWS=${FLOWS:-50000}
WORKERS=${WORKERS:-1}
RING_MB=${RING_MB:-32}
BACKEND=${BACKEND:-afpacket}
TAGS=()
if [ "$BACKEND" = pcap ]; then
	WORKERS=1
	TAGS=(-tags pcap)
fi
ID=$$
NSA=nfb-$ID-a
NSB=nfb-$ID-b
VA=nfb${ID}a
VB=nfb${ID}b
WORK=$(mktemp -d /tmp/nfpipe-benchlive.XXXXXX)
PIDS=()

if [ "$(id -u)" != 0 ]; then
	echo "bench-live: run as root (network namespaces, packet sockets)" >&2
	exit 1
fi

need=()
command -v ip >/dev/null || need+=(iproute2)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v tcpreplay >/dev/null || need+=(tcpreplay)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	ip netns del "$NSA" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

echo "bench-live: building nfpipe and generating $PACKETS frames in $FLOWS flows ..."
(cd "$ROOT" && go build "${TAGS[@]}" -o "$WORK/nfpipe" ./cmd/nfpipe)
(cd "$ROOT" && go run ./cmd/pcapgen -o "$WORK/bench.pcap" -packets "$PACKETS" -flows "$FLOWS" -concurrent 5000 >/dev/null)

ip netns add "$NSA"
ip netns add "$NSB"
# A jumbo MTU so tagged full-size frames of the capture are offered too.
ip link add "$VA" netns "$NSA" mtu 9000 type veth peer name "$VB" netns "$NSB" mtu 9000
for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

RING=$((RING_MB * 1024 * 1024))
TCPDUMP_KIB=$((WORKERS * RING_MB * 1024))
cat >"$WORK/bench.yaml" <<EOF
stages:
  capture:
    type: capture
    interface: $VB
    backend: $BACKEND
    workers: $WORKERS
    ring_size: $RING
    block_size: $((RING < 8388608 ? 262144 : 1048576))
  decode:
    type: decode
    inputs: [capture]
  sessions:
    type: sessionize
    inputs: [decode]
    idle_timeout: 60s
sinks:
  null:
    type: discard
    inputs: [sessions]
EOF

ip netns exec "$NSB" "$WORK/nfpipe" run "$WORK/bench.yaml" 2>"$WORK/nfpipe.log" &
NFPID=$!
PIDS+=("$NFPID")
ip netns exec "$NSB" tcpdump -i "$VB" -n -B "$TCPDUMP_KIB" -s 262144 -w /dev/null 2>"$WORK/tcpdump.log" &
TDPID=$!
PIDS+=("$TDPID")
for _ in $(seq 1 100); do
	if grep -q "listening on" "$WORK/tcpdump.log" && grep -q "capturing" "$WORK/nfpipe.log"; then break; fi
	sleep 0.1
done
grep -q "capturing" "$WORK/nfpipe.log" || { cat "$WORK/nfpipe.log"; echo "bench-live: nfpipe did not start" >&2; exit 1; }
sleep 0.5

echo "bench-live: replaying with tcpreplay --topspeed ..."
ip netns exec "$NSA" tcpreplay --topspeed -i "$VA" "$WORK/bench.pcap" >"$WORK/tcpreplay.log" 2>&1 || true
sleep 2
kill -INT "$TDPID" "$NFPID"
wait "$TDPID" 2>/dev/null || true
wait "$NFPID" 2>/dev/null || true
PIDS=()

offered=$(sed -n 's/.*Successful packets: *\([0-9]*\).*/\1/p' "$WORK/tcpreplay.log" | head -1)
pps=$(sed -n 's/.*Rated: .* \([0-9.]*\) pps.*/\1/p' "$WORK/tcpreplay.log" | head -1)
secs=$(sed -n 's/.*Actual: .* sent in \([0-9.]*\) seconds.*/\1/p' "$WORK/tcpreplay.log" | head -1)
td_cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/tcpdump.log")
td_recv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$WORK/tcpdump.log")
td_drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$WORK/tcpdump.log")
# The summary lists the counters above zero only.
counter() { grep -E '^capture ' "$WORK/nfpipe.log" | grep -o "$1=[0-9]*" | head -1 | cut -d= -f2 || true; }
nf_cap=$(counter packets_read)
nf_kpk=$(counter kernel_packets)
nf_drop=$(counter kernel_drops)
nf_cap=${nf_cap:-0} nf_kpk=${nf_kpk:-0} nf_drop=${nf_drop:-0}
dec_in=$(awk '$1 == "decode" {print $3}' "$WORK/nfpipe.log")
ses_in=$(awk '$1 == "sessions" {print $3}' "$WORK/nfpipe.log")
flows=$(grep -E '^sessions ' "$WORK/nfpipe.log" | grep -o 'flows_started=[0-9]*' | cut -d= -f2 || true)
queue_drop=$(awk '$1 ~ /^(decode|sessions|null)$/ && $2 ~ /^(decode|sessionize|discard)$/ {s += $5} END {print s + 0}' "$WORK/nfpipe.log")

# Loss: what the kernel dropped, as a share of what reached the socket.
loss() { awk -v d="$1" -v c="$2" 'BEGIN { if (c + d > 0) printf "%.2f%%", 100 * d / (c + d); else print "n/a" }'; }
echo
echo "offered: ${offered:-?} packets in ${secs:-?} s (${pps:-?} pps, tcpreplay --topspeed, $(nproc) CPUs)"
printf '%-28s %12s %12s %12s %10s\n' "" offered captured "kernel drops" loss
printf '%-28s %12s %12s %12s %10s\n' "tcpdump -w /dev/null" "${offered:-?}" "${td_cap:-?}" "${td_drop:-?}" "$(loss "${td_drop:-0}" "${td_cap:-0}")"
printf '%-28s %12s %12s %12s %10s\n' "nfpipe (decode+sessionize)" "${offered:-?}" "$nf_cap" "$nf_drop" "$(loss "$nf_drop" "$nf_cap")"
echo
echo "tcpdump: buffer ${TCPDUMP_KIB} KiB; received by filter ${td_recv:-?}"
echo "nfpipe: backend $BACKEND, $WORKERS worker(s) x ${RING_MB} MiB ring; kernel_packets $nf_kpk; decode in ${dec_in:-?}, sessionize in ${ses_in:-?}, flows ${flows:-?}; pipeline queue drops $queue_drop"
