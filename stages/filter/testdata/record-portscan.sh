#!/usr/bin/env bash
# record-portscan.sh - record testdata/portscan.pcap: real TCP connect scans
# between two network namespaces, with normal traffic before and after.
#
# Network: namespace nfscan-cli (veth nfscan-c) holds the clients
#   10.78.0.1  fd00:78::1   normal client (curl)
#   10.78.0.3               scanner A: connect scan of ports 1-300 over IPv4
#   fd00:78::3              scanner B: connect scan of ports 8000-8299 over IPv6
#   10.78.0.5               a client touching 50 ports (20-69), below a scan threshold
# and namespace nfscan-srv (veth nfscan-s) the server 10.78.0.2 / fd00:78::2,
# listening on 22, 443 (accept and close) and 8080 (python3 http.server);
# every other port answers a SYN with RST.
#
# Timeline (packet time from the first packet):
#   ~0s   three HTTP GETs from the normal client
#   ~1s   scanner A, then scanner B, then the 50-port client, each port in turn
#   ~3s   two more GETs
#   +70s  (a sleep) two last GETs, so packet time passes the scans by more
#         than a minute and a 60-second window empties
#
# tcpdump runs on nfscan-c with a 128-byte snapshot: headers are kept, and
# wire lengths are recorded in full. Offloads are off, so frames are as a
# NIC would deliver them.
#
# Usage (as root, Debian 12): stages/filter/testdata/record-portscan.sh
# Needs iproute2, ethtool, tcpdump, curl, python3 (apt-get installs missing
# ones). Traffic only flows between the two namespaces it creates, which
# are removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/portscan.pcap
CLI=nfscan-cli
SRV=nfscan-srv
WORK=$(mktemp -d /tmp/nfscan.XXXXXX)
PIDS=()

need() {
	local missing=()
	command -v ip >/dev/null || missing+=(iproute2)
	command -v ethtool >/dev/null || missing+=(ethtool)
	command -v tcpdump >/dev/null || missing+=(tcpdump)
	command -v curl >/dev/null || missing+=(curl)
	[ -x /usr/bin/python3 ] || missing+=(python3)
	if [ ${#missing[@]} -gt 0 ]; then
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
	fi
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	ip netns del "$CLI" 2>/dev/null || true
	ip netns del "$SRV" 2>/dev/null || true
	rm -rf "$WORK"
}

in_cli() { ip netns exec "$CLI" "$@"; }

need
trap cleanup EXIT
ip netns del "$CLI" 2>/dev/null || true
ip netns del "$SRV" 2>/dev/null || true
ip netns add "$CLI"
ip netns add "$SRV"
for ns in "$CLI" "$SRV"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.router_solicitations=0
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0
	ip netns exec "$ns" ip link set lo up
done
ip link add nfscan-c netns "$CLI" mtu 1500 type veth peer name nfscan-s netns "$SRV" mtu 1500
in_cli ethtool -K nfscan-c rx off tx off tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$SRV" ethtool -K nfscan-s rx off tx off tso off gso off gro off >/dev/null 2>&1 || true
for a in 10.78.0.1/24 10.78.0.3/24 10.78.0.5/24; do in_cli ip addr add "$a" dev nfscan-c; done
for a in fd00:78::1/64 fd00:78::3/64; do in_cli ip -6 addr add "$a" dev nfscan-c nodad; done
ip netns exec "$SRV" ip addr add 10.78.0.2/24 dev nfscan-s
ip netns exec "$SRV" ip -6 addr add fd00:78::2/64 dev nfscan-s nodad
in_cli ip link set nfscan-c up
ip netns exec "$SRV" ip link set nfscan-s up

mkdir -p "$WORK/www"
echo "nfpipe port scan fixture" >"$WORK/www/index.html"
ip netns exec "$SRV" /usr/bin/python3 -m http.server --bind :: --directory "$WORK/www" 8080 >"$WORK/http.log" 2>&1 &
PIDS+=($!)
ip netns exec "$SRV" /usr/bin/python3 -c '
import selectors, socket
sel = selectors.DefaultSelector()
for port in (22, 443):
    s = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        c.close()
' &
PIDS+=($!)
in_cli ping -q -c 1 -W 2 10.78.0.2 >/dev/null
in_cli ping -q -6 -c 1 -W 2 fd00:78::2 >/dev/null
for i in $(seq 1 50); do
	in_cli curl -s -o /dev/null http://10.78.0.2:8080/ && break
	sleep 0.2
done

# Started with ip netns exec directly (not through a shell function) so
# that $! is tcpdump itself and the SIGINT below reaches it.
ip netns exec "$CLI" tcpdump -Z root -n -U -s 128 -i nfscan-c -w "$OUT" 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
for i in $(seq 1 50); do
	grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done
sleep 0.5

gets() { for _ in $(seq 1 "$1"); do in_cli curl -sS -o /dev/null http://10.78.0.2:8080/index.html; done; }

# scan SRC DST FIRST LAST: a TCP connect to every port in turn from SRC.
scan() {
	in_cli /usr/bin/python3 -c '
import socket, sys
src, dst, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
open_ports = []
for port in range(first, last + 1):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(2)
    if s.connect_ex((dst, port)) == 0:
        open_ports.append(port)
    s.close()
print(src, "->", dst, "ports", first, "-", last, "open:", open_ports)
' "$@"
}

gets 3
scan 10.78.0.3 10.78.0.2 1 300
scan fd00:78::3 fd00:78::2 8000 8299
scan 10.78.0.5 10.78.0.2 20 69
gets 2
echo "waiting 70 seconds of packet time"
sleep 70
gets 2
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" || true
cat "$WORK/tcpdump.log" >&2
ls -l "$OUT"
