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
# ones) and testdata/real/netns.sh (sourced: namespace, server and tcpdump
# helpers). Traffic only flows between the two namespaces it creates, which
# are removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE/portscan.pcap
CLI=nfscan-cli
SRV=nfscan-srv
WORK=$(mktemp -d /tmp/nfscan.XXXXXX)
PIDS=()

# need, cleanup, in_cli, bg_in, netns_pair, learn_neighbours, capture and
# stop_capture.
# shellcheck source=SCRIPTDIR/../../../testdata/real/netns.sh
source "$HERE/../../../testdata/real/netns.sh"

need ip:iproute2 ethtool:ethtool tcpdump:tcpdump curl:curl /usr/bin/python3:python3
trap cleanup EXIT
netns_pair nfscan-c nfscan-s \
	"10.78.0.1/24 10.78.0.3/24 10.78.0.5/24 fd00:78::1/64 fd00:78::3/64" \
	"10.78.0.2/24 fd00:78::2/64"

mkdir -p "$WORK/www"
echo "nfpipe port scan fixture" >"$WORK/www/index.html"
bg_in "$SRV" /usr/bin/python3 -m http.server --bind :: --directory "$WORK/www" 8080 >"$WORK/http.log" 2>&1
bg_in "$SRV" /usr/bin/python3 -c '
import selectors, socket
sel = selectors.DefaultSelector()
for port in (22, 443):
    s = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        c.close()
'
learn_neighbours 10.78.0.2 fd00:78::2
for _ in $(seq 1 50); do
	in_cli curl -s -o /dev/null http://10.78.0.2:8080/ && break
	sleep 0.2
done

capture "$OUT" -s 128 -i nfscan-c

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
stop_capture
ls -l "$OUT"
