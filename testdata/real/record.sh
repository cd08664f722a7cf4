#!/usr/bin/env bash
# record.sh - record the real-traffic fixtures in testdata/real and write their
# TShark conversation oracle.
#
# What it does:
#   1. Creates two network namespaces, nfrec-cli and nfrec-srv, joined by the
#      veth pair nfrec-c / nfrec-s (MTU 1500, 10.77.0.1/24 + fd00:77::1/64 on
#      the client, 10.77.0.2/24 + fd00:77::2/64 on the server). Checksum, TSO,
#      GSO and GRO offloads are off, so every captured frame is a real
#      on-the-wire frame of at most 1514 bytes with correct checksums.
#   2. Starts real servers in nfrec-srv: python3 http.server (dual stack, port
#      8080), dnsmasq (DNS on port 53, UDP and TCP), a socat UDP echo (port
#      7007) and a python3 TCP service that answers one line and then aborts
#      the connection with RST (port 7008).
#   3. Recording 1, real/mixed-eth.pcap (Ethernet): tcpdump on nfrec-c while
#      the client runs curl GETs over IPv4 and IPv6 (index, small file, ~1 MB
#      file over IPv4, 100 kB over IPv6, a 404 on each), dig queries over UDP
#      (IPv4 and IPv6) and TCP, UDP echo exchanges, ping and ping -6, a
#      connection to a closed port on each family (SYN answered by RST) and a
#      connection the server aborts with RST.
#   4. Recording 2, real/mixed-sll2.pcap (LINKTYPE_LINUX_SLL2): tcpdump -i any
#      in nfrec-cli while a smaller mix of the same traffic runs.
#   5. Writes real/<name>.expected-conv.csv for each pcap with expected-conv.py
#      (the same columns and method as corpus/expected-conv.csv).
#
# Usage (as root, on Debian 12):  testdata/real/record.sh
# Idempotent: it removes leftovers of an earlier run (namespaces with the
# nfrec- prefix it uses), overwrites the outputs, and removes its namespaces
# and stops its servers on exit (trap), also on error or Ctrl-C.
# Needs: iproute2 ethtool tcpdump tshark curl dnsutils dnsmasq-base socat
#        iputils-ping python3 (installed with apt-get when missing), and
#        netns.sh next to it (sourced: namespace, server and tcpdump helpers).
# Traffic only flows between the two namespaces it creates.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=nfrec-cli
SRV=nfrec-srv
VC=nfrec-c
VS=nfrec-s
A4=10.77.0.1
B4=10.77.0.2
A6=fd00:77::1
B6=fd00:77::2
WORK=$(mktemp -d /tmp/nfrec.XXXXXX)
PIDS=()

# need, cleanup, in_cli, in_srv, bg_in, netns_pair, learn_neighbours,
# capture and stop_capture.
# shellcheck source=SCRIPTDIR/netns.sh
source "$HERE/netns.sh"

start_servers() {
	mkdir -p "$WORK/www"
	echo "nfpipe real-traffic fixture" >"$WORK/www/index.html"
	printf 'small file %s\n' $(seq 1 40) >"$WORK/www/small.txt"
	# Deterministic, incompressible contents.
	/usr/bin/python3 -c '
import random, sys
r = random.Random(7707)
open(sys.argv[1], "wb").write(r.randbytes(1000000))
open(sys.argv[2], "wb").write(r.randbytes(100000))
' "$WORK/www/big.bin" "$WORK/www/medium.bin"

	bg_in "$SRV" /usr/bin/python3 -m http.server --bind :: --directory "$WORK/www" 8080 \
		>"$WORK/http.log" 2>&1
	bg_in "$SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --pid-file= --bind-interfaces --port=53 \
		--listen-address="$B4" --listen-address="$B6" \
		--host-record=www.nfrec.test,"$B4","$B6" \
		--txt-record=info.nfrec.test,"nfpipe fixture" \
		--log-facility="$WORK/dns.log"
	bg_in "$SRV" socat UDP6-RECVFROM:7007,ipv6only=0,fork PIPE
	# Reads a line, answers, then closes with SO_LINGER 0: the kernel aborts
	# the established connection with RST instead of FIN.
	bg_in "$SRV" /usr/bin/python3 -c '
import socket, struct
s = socket.create_server(("::", 7008), family=socket.AF_INET6, dualstack_ipv6=True)
while True:
    c, _ = s.accept()
    line = c.makefile("rb").readline()
    c.sendall(b"bye " + line)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
'

	# Wait until every server answers.
	for _ in $(seq 1 50); do
		if in_cli curl -s -o /dev/null "http://$B4:8080/" &&
			in_cli dig +short +tries=1 +time=1 "@$B4" www.nfrec.test >/dev/null &&
			in_srv ss -Hltn "sport = :7008" | grep -q 7008 &&
			in_srv ss -Hlun "sport = :7007" | grep -q 7007; then
			return 0
		fi
		sleep 0.2
	done
	echo "servers did not come up" >&2
	exit 1
}

http_traffic() {
	local full=$1
	in_cli curl -sS -o /dev/null "http://$B4:8080/"
	in_cli curl -sS -o /dev/null "http://$B4:8080/small.txt"
	in_cli curl -sS -o /dev/null -w '%{http_code}\n' "http://$B4:8080/missing.html"
	in_cli curl -sS -o /dev/null "http://[$B6]:8080/index.html"
	in_cli curl -sS -o /dev/null -w '%{http_code}\n' "http://[$B6]:8080/nothing-here"
	if [ "$full" = full ]; then
		in_cli curl -sS -o /dev/null -w '%{size_download} bytes\n' "http://$B4:8080/big.bin"
		in_cli curl -sS -o /dev/null -w '%{size_download} bytes\n' "http://[$B6]:8080/medium.bin"
	fi
}

# udp_echo ADDR SRCPORT COUNT sends COUNT datagrams from SRCPORT to the echo
# server and waits for each answer.
udp_echo() {
	in_cli /usr/bin/python3 -c '
import socket, sys, time
addr, sport, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
s.settimeout(2)
for i in range(1, count + 1):
    s.sendto(b"echo %d\n" % i, (addr, 7007))
    print(s.recv(100).decode().strip())
    time.sleep(0.1)
' "$1" "$2" "$3"
}

udp_traffic() {
	local full=$1
	in_cli dig +tries=1 +time=2 "@$B4" www.nfrec.test A +short
	in_cli dig +tries=1 +time=2 "@$B6" www.nfrec.test AAAA +short
	if [ "$full" = full ]; then
		in_cli dig +tries=1 +time=2 "@$B4" info.nfrec.test TXT +short
		in_cli dig +tries=1 +time=2 "@$B4" unknown.nfrec.test A +short || true
		in_cli dig +tcp +tries=1 +time=2 "@$B4" www.nfrec.test A +short
	fi
	# Datagrams on one 4-tuple, each answered before the next is sent.
	udp_echo "$B4" 40007 5
	if [ "$full" = full ]; then
		udp_echo "$B6" 40008 3
	fi
}

icmp_traffic() {
	in_cli ping -q -c 4 -i 0.2 "$B4" | tail -1
	in_cli ping -q -6 -c 4 -i 0.2 "$B6" | tail -1
}

reset_traffic() {
	local full=$1
	# Closed port: the SYN is answered by RST/ACK.
	in_cli curl -sS -o /dev/null --max-time 2 "http://$B4:81/" 2>&1 | sed 's/^/expected: /' || true
	if [ "$full" = full ]; then
		in_cli curl -sS -o /dev/null --max-time 2 "http://[$B6]:81/" 2>&1 | sed 's/^/expected: /' || true
	fi
	# Established connection aborted by the server (SO_LINGER 0 -> RST).
	# The client keeps its side open, so the server's RST ends the connection.
	(
		echo hello
		sleep 0.5
	) | in_cli socat -t 1 - "TCP4:$B4:7008" || true
}

main() {
	if [ "$(id -u)" != 0 ]; then
		echo "record.sh must run as root (it creates network namespaces)" >&2
		exit 1
	fi
	need ip:iproute2 ethtool:ethtool tcpdump:tcpdump tshark:tshark curl:curl \
		dig:dnsutils dnsmasq:dnsmasq-base socat:socat ping:iputils-ping \
		/usr/bin/python3:python3
	trap cleanup EXIT
	netns_pair "$VC" "$VS" "$A4/24 $A6/64" "$B4/24 $B6/64"
	# Learn neighbours before recording so each recording starts with traffic.
	learn_neighbours "$B4" "$B6"
	start_servers

	echo "== recording mixed-eth.pcap (Ethernet, on $VC)"
	capture "$WORK/mixed-eth.pcap" -s 0 -i "$VC"
	http_traffic full
	udp_traffic full
	icmp_traffic
	reset_traffic full
	stop_capture

	echo "== recording mixed-sll2.pcap (-i any, LINUX_SLL2)"
	capture "$WORK/mixed-sll2.pcap" -s 0 -i any -y LINUX_SLL2
	http_traffic small
	udp_traffic small
	icmp_traffic
	reset_traffic small
	stop_capture

	local name
	for name in mixed-eth mixed-sll2; do
		cp "$WORK/$name.pcap" "$HERE/$name.pcap"
		/usr/bin/python3 "$HERE/expected-conv.py" --prefix real/ "$HERE/$name.pcap" \
			>"$HERE/$name.expected-conv.csv"
		capinfos -c -u -E "$HERE/$name.pcap" | sed 1d
		echo "$(($(wc -l <"$HERE/$name.expected-conv.csv") - 1)) conversations in $name.expected-conv.csv"
	done
}

main "$@"
