#!/usr/bin/env bash
# make-sample.sh - build examples/sample.pcapng, the capture that the default
# pipeline replays in a loop.
#
# The sample is real traffic from Zeek's public test traces (BSD-3-Clause,
# copies in testdata/corpus/valid, origin in testdata/corpus/INDEX.csv and
# examples/sample.README.md). They were recorded years apart and some of them
# hold long silences, so a plain merge would replay as one burst followed by
# years of nothing. This script lays them out over two minutes instead:
#
#   1. Each input is converted to pcap (the one pcapng input loses only its
#      interface options) and its snapshot-length header field is set to
#      262144, so that all inputs share one interface description.
#   2. Each input is cut into segments wherever two consecutive packets are
#      more than MAXGAP seconds apart. Packet timing inside a segment is kept
#      exactly; a longer silence between segments shrinks to MAXGAP seconds.
#   3. Input number i (0-based, in the order listed below) starts at
#      BASE + i * STEP seconds. Its segments are moved there with
#      `editcap -r -t` (a constant shift per segment, microsecond exact).
#   4. mergecap interleaves all segments by time into one pcapng file with one
#      Ethernet interface.
#
# Packet bytes are never changed: only timestamps move. The result is
# deterministic for a given Wireshark version (mergecap records its own
# name and the OS in the section header).
#
# Usage: examples/make-sample.sh    (needs editcap, mergecap, tshark and
# capinfos from Debian's wireshark-common and tshark packages, and tcpdump
# for the final check that only timestamps changed)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=$(cd "$HERE/../testdata/corpus/valid" && pwd)
OUT=$HERE/sample.pcapng
MAXGAP=4     # seconds: longest silence kept inside one input
STEP=4       # seconds between the starts of two inputs
BASE=1700000000 # 2023-11-14 22:13:20 UTC, first packet of the sample

# Order chosen so that long and short inputs alternate. http-vlan-0 and
# http-qinq-0 are left out: they repeat http_get's packets in VLAN/QinQ tags.
INPUTS=(
	zeek_ntp_ntp.pcap
	zeek_http_get.pcap
	zeek_tunnels_Teredo.pcap
	zeek_icmp_5-pings.pcap
	zeek_tcp_reassembly.pcap
	zeek_quic_chromium-115.0.5790.110-api-cirrus-com.pcap
	zeek_ftp_ipv6.pcap
	zeek_icmp_icmp6-ping.pcap
	zeek_ssh_single-conn.pcap
	zeek_ipv4_fragmented-1.pcap
	zeek_tls_tls-conn-with-extensions.pcap
	zeek_dns_long-connection.pcap
	zeek_tunnels_gre-sample.pcap
	zeek_ipv6-fragmented-dns.pcap
	zeek_tls_hrr.pcap
	zeek_erspanII.pcap
	zeek_pppoe-over-qinq.pcap
	zeek_tunnels_4in6.pcap
	zeek_tunnels_vxlan-encapsulated-http.pcap
	zeek_icmp_icmp-destunreach-udp.pcap
	zeek_ipv6-http-atomic-frag.pcap
	zeek_icmp_icmp6-nd-options.pcap
	zeek_mixed-vlan-mpls.pcap
	zeek_tunnels_6in4.pcap
	zeek_quic_quicv2-http3-443.pcap
	zeek_ipv6-hbh-routing0.pcap
	zeek_mpls-in-vlan.pcap
	zeek_syslog-single-udp.pcap
	zeek_vlan-pcp-dei.pcapng
)

for tool in editcap mergecap tshark capinfos tcpdump; do
	command -v "$tool" >/dev/null || {
		echo "make-sample.sh needs $tool (apt-get install tshark wireshark-common tcpdump)" >&2
		exit 1
	}
done

TMP=$(mktemp -d /tmp/nfpipe-sample.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# set_snaplen FILE writes 262144 into a little-endian pcap header's snaplen
# field (bytes 16-19). Every captured length in the inputs is below it.
set_snaplen() {
	local magic
	magic=$(od -An -tx1 -N4 "$1" | tr -d ' ')
	if [ "$magic" != d4c3b2a1 ]; then
		echo "$1: expected a little-endian microsecond pcap, got magic $magic" >&2
		exit 1
	fi
	printf '\x00\x00\x04\x00' | dd of="$1" bs=1 seek=16 conv=notrunc status=none
}

segments=()
i=0
for name in "${INPUTS[@]}"; do
	in=$TMP/$i.pcap
	editcap -F pcap "$CORPUS/$name" "$in"
	set_snaplen "$in"
	start=$((BASE + i * STEP))
	# Per segment: first and last packet number and the shift in microseconds.
	tshark -n -r "$in" -T fields -e frame.time_epoch 2>/dev/null |
		awk -v start="$start" -v maxgap="$MAXGAP" '
		function us(t,   p) { p = index(t, "."); return substr(t, 1, p - 1) * 1000000 + substr(t, p + 1, 6) }
		{
			t = us($1)
			if (NR == 1) { first = 1; shift = start * 1000000 - t; prev = t; next }
			if (t - prev > maxgap * 1000000) {
				printf "%d %d %.0f\n", first, NR - 1, shift
				# The next segment starts maxgap seconds after the last one.
				shift = (prev + shift + maxgap * 1000000) - t
				first = NR
			}
			prev = t
		}
		END { if (NR > 0) printf "%d %d %.0f\n", first, NR, shift }' >"$TMP/$i.seg"
	s=0
	while read -r first last shift; do
		sign=""
		abs=$shift
		if [ "$shift" -lt 0 ]; then sign=-; abs=$((-shift)); fi
		delta=$(printf '%s%d.%06d' "$sign" $((abs / 1000000)) $((abs % 1000000)))
		seg=$TMP/$i-$s.pcap
		editcap -F pcap -r -t "$delta" "$in" "$seg" "$first-$last"
		segments+=("$seg")
		s=$((s + 1))
	done <"$TMP/$i.seg"
	echo "$name: $(wc -l <"$TMP/$i.seg") segment(s), starts at +$((i * STEP)) s"
	i=$((i + 1))
done

mergecap -F pcapng -I all -w "$OUT" "${segments[@]}"

# Only timestamps may differ: the sample must hold exactly the inputs' frames.
frames() {
	tcpdump -r "$1" -nn -xx 2>/dev/null |
		awk '/^[0-9]/ { if (h != "") print h; h = ""; next } { for (i = 2; i <= NF; i++) h = h $i } END { if (h != "") print h }'
}
want=$(for name in "${INPUTS[@]}"; do frames "$CORPUS/$name"; done | sort | sha256sum)
got=$(frames "$OUT" | sort | sha256sum)
if [ "$want" != "$got" ]; then
	echo "sample.pcapng does not hold exactly the input frames" >&2
	exit 1
fi
echo "frames check: the sample holds exactly the input frames"
capinfos -c -u -a -e -s -E "$OUT"
