#!/usr/bin/env bash
# record-tunnels.sh - record real/tunnels.pcap, real traffic carried through
# eight kinds of tunnel, and write its TShark conversation oracle.
#
# What it does:
#   1. Creates two network namespaces, nftun-cli and nftun-srv, joined by the
#      veth pair nftun-c / nftun-s, the "underlay" (MTU 1500, 10.78.0.1/24 +
#      fd00:78::1/64 on the client, 10.78.0.2/24 + fd00:78::2/64 on the
#      server). Checksum, TSO, GSO and GRO offloads are off, so every captured
#      frame is a real on-the-wire frame of at most 1514 bytes with correct
#      checksums.
#   2. Creates eight tunnels between the namespaces over the underlay, each
#      with its own inner subnet and MTU 1400 (nothing fragments on the
#      underlay):
#        gre1       GRE over IPv4, key 42, carrying IPv4 and IPv6
#        gretap1    Ethernet in GRE over IPv4 (protocol 0x6558), no key
#        ip6gre1    GRE over IPv6, carrying IPv4 and IPv6
#        vxlan100   VXLAN VNI 100, UDP port 4789, static remote, no learning
#        geneve200  Geneve VNI 200, UDP port 6081
#        ipip1      IPv4 in IPv4 (IP protocol 4)
#        sit1       IPv6 in IPv4 (IP protocol 41)
#        ip6tnl1    IPv4 in IPv6 (ip6tnl mode ipip6, next header 4)
#      Each tunnel is a kernel device when the kernel has that type (checked
#      with `ip link add ... type X`). When it does not, a small userspace
#      relay (python3, below) takes its place: a TUN device (TAP for the
#      Ethernet tunnels) in each namespace, and raw IP or UDP sockets on the
#      underlay that write the same encapsulation as the kernel device would
#      (GRE header with key, Geneve header, bare IP-in-IP, and the tunnel
#      encapsulation limit destination option that Linux ip6gre/ip6tnl add).
#      The inner packets are always made by the namespaces' own kernel
#      stacks; only the tunnel header comes from the relay. NFTUN_RELAY=0
#      skips such tunnels instead.
#   3. Starts real servers in nftun-srv: python3 http.server (dual stack, port
#      8080) and dnsmasq (DNS on port 53 of every inner server address).
#   4. Records real/tunnels.pcap with tcpdump on nftun-c (Ethernet) while the
#      client, through each tunnel in turn and for each inner address family
#      the tunnel carries, runs one curl GET of a small page, one dig UDP
#      query and ping -c 2.
#   5. Writes real/tunnels.expected-conv.csv with expected-conv.py (the same
#      columns and method as corpus/expected-conv.csv).
#
# Usage (as root, on Debian 12):  testdata/real/record-tunnels.sh
# Idempotent: it removes leftovers of an earlier run (namespaces with the
# nftun- prefix it uses), overwrites the outputs, and removes its namespaces
# and stops its servers and relays on exit (trap), also on error or Ctrl-C.
# Needs: iproute2 ethtool tcpdump tshark curl dnsutils dnsmasq-base
#        iputils-ping python3 (installed with apt-get when missing), and
#        netns.sh next to it (sourced: namespace, server and tcpdump helpers).
# Traffic only flows between the two namespaces it creates.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=nftun-cli
SRV=nftun-srv
VC=nftun-c
VS=nftun-s
A4=10.78.0.1
B4=10.78.0.2
A6=fd00:78::1
B6=fd00:78::2
MTU=1400
WORK=$(mktemp -d /tmp/nftun.XXXXXX)
PIDS=()

# TUNNELS: name, type, inner subnet index N (10.78.N.0/24, fd00:78:N::/64),
# inner families, and the arguments of `ip link add` on the client side
# (@L4 @R4 @L6 @R6 are replaced by the local and remote underlay addresses).
TUNNELS=(
	"gre1 gre 1 46 remote @R4 local @L4 key 42"
	"gretap1 gretap 2 46 remote @R4 local @L4"
	"ip6gre1 ip6gre 3 46 remote @R6 local @L6"
	"vxlan100 vxlan 4 46 id 100 dstport 4789 remote @R4 local @L4 nolearning"
	"geneve200 geneve 5 46 id 200 remote @R4"
	"ipip1 ipip 6 4 remote @R4 local @L4"
	"sit1 sit 7 6 remote @R4 local @L4"
	"ip6tnl1 ip6tnl 8 4 mode ipip6 remote @R6 local @L6"
)
KERNEL=()  # tunnel names made by the kernel
RELAY=()   # type=name pairs handed to the relay
SKIPPED=() # "type: reason"

# need, cleanup, in_cli, in_srv, bg_in, no_offloads, netns_pair,
# learn_neighbours, capture and stop_capture.
# shellcheck source=SCRIPTDIR/netns.sh
source "$HERE/netns.sh"

# The userspace relay: one process per namespace, for the tunnel types the
# kernel lacks. Arguments: local4 remote4 local6 remote6 type=dev...
write_relay() {
	cat >"$WORK/relay.py" <<'EOF'
import errno, fcntl, os, select, socket, struct, sys

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
P_IP, P_IPV6, P_TEB = 0x0800, 0x86DD, 0x6558
GRE_C, GRE_K, GRE_S = 0x8000, 0x2000, 0x1000
GRE_KEY = 42
GENEVE_VNI = 200
# Destination options header with the tunnel encapsulation limit option
# (RFC 2473, limit 4) and PadN, as Linux ip6gre and ip6tnl send by default.
# The kernel fills in the next-header byte.
ENCAP_LIMIT = bytes([0, 0, 4, 1, 4, 1, 1, 0])

local4, remote4, local6, remote6 = sys.argv[1:5]
# type -> (device kind, underlay family, IP protocol or "udp" for Geneve on
# port 6081, inner IP versions the tunnel carries or None for Ethernet)
KINDS = {
    "gre": (IFF_TUN, socket.AF_INET, 47, (4, 6)),
    "gretap": (IFF_TAP, socket.AF_INET, 47, None),
    "ip6gre": (IFF_TUN, socket.AF_INET6, 47, (4, 6)),
    "geneve": (IFF_TAP, socket.AF_INET, "udp", None),
    "ipip": (IFF_TUN, socket.AF_INET, 4, (4,)),
    "sit": (IFF_TUN, socket.AF_INET, 41, (6,)),
    "ip6tnl": (IFF_TUN, socket.AF_INET6, 4, (4,)),
}

socks = {}  # (family, proto) -> socket
devs = {}   # type -> tun/tap fd
for arg in sys.argv[5:]:
    typ, dev = arg.split("=")
    kind, fam, proto, _ = KINDS[typ]
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", dev.encode(), kind | IFF_NO_PI))
    devs[typ] = fd
    if (fam, proto) in socks:
        continue
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((local4, 6081))
    else:
        s = socket.socket(fam, socket.SOCK_RAW, proto)
        if fam == socket.AF_INET6:
            s.bind((local6, 0))
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, ENCAP_LIMIT)
        else:
            s.bind((local4, 0))
    socks[(fam, proto)] = s


def send(typ, payload):
    kind, fam, proto, _ = KINDS[typ]
    if proto == "udp":
        socks[(fam, proto)].sendto(payload, (remote4, 6081))
    else:
        socks[(fam, proto)].sendto(payload, (remote6 if fam == socket.AF_INET6 else remote4, 0))


def from_dev(typ, pkt):
    """Encapsulate a packet or frame read from the tunnel device."""
    kind, fam, proto, versions = KINDS[typ]
    if versions is not None and pkt[0] >> 4 not in versions:
        return  # this tunnel type does not carry that family
    if typ == "gre":
        hdr = struct.pack("!HHI", GRE_K, P_IP if pkt[0] >> 4 == 4 else P_IPV6, GRE_KEY)
    elif typ == "ip6gre":
        hdr = struct.pack("!HH", 0, P_IP if pkt[0] >> 4 == 4 else P_IPV6)
    elif typ == "gretap":
        hdr = struct.pack("!HH", 0, P_TEB)
    elif typ == "geneve":
        # Version 0, no options, O and C clear, Ethernet payload, VNI.
        hdr = struct.pack("!BBHI", 0, 0, P_TEB, GENEVE_VNI << 8)
    else:
        hdr = b""
    send(typ, hdr + pkt)


def gre_payload(g):
    """(protocol, key, payload) of a GRE packet, or None."""
    if len(g) < 4:
        return None
    flags, proto = struct.unpack("!HH", g[:4])
    if flags & 0x7 or flags & 0x4000:  # version 0, no routing
        return None
    off, key = 4, None
    if flags & GRE_C:
        off += 4
    if flags & GRE_K:
        if len(g) < off + 4:
            return None
        key = struct.unpack("!I", g[off:off + 4])[0]
        off += 4
    if flags & GRE_S:
        off += 4
    return proto, key, g[off:]


def to_dev(typ, pkt):
    if typ not in devs or not pkt:
        return
    try:
        os.write(devs[typ], pkt)
    except OSError as e:
        # EIO: the device is not up yet (the other namespace brought its end
        # up first); a kernel tunnel device drops such packets too.
        if e.errno != errno.EIO:
            raise


def from_underlay(fam, proto, data, src):
    if src[0] != (remote6 if fam == socket.AF_INET6 else remote4):
        return
    if fam == socket.AF_INET and proto != "udp":
        data = data[(data[0] & 15) * 4:]  # raw IPv4 sockets see the IP header
    if proto == 47:
        g = gre_payload(data)
        if g is None:
            return
        p, key, inner = g
        if fam == socket.AF_INET6:
            if key is None and p in (P_IP, P_IPV6):
                to_dev("ip6gre", inner)
        elif p == P_TEB and key is None:
            to_dev("gretap", inner)
        elif p in (P_IP, P_IPV6) and key == GRE_KEY:
            to_dev("gre", inner)
    elif proto == 4:
        to_dev("ip6tnl" if fam == socket.AF_INET6 else "ipip", data)
    elif proto == 41:
        to_dev("sit", data)
    elif proto == "udp":
        if len(data) < 8:
            return
        ver_opt, _, p, vni = struct.unpack("!BBHI", data[:8])
        if ver_opt >> 6 == 0 and p == P_TEB and vni >> 8 == GENEVE_VNI:
            to_dev("geneve", data[8 + (ver_opt & 63) * 4:])


by_fd = {fd: ("dev", typ) for typ, fd in devs.items()}
by_fd.update({s.fileno(): ("sock", key) for key, s in socks.items()})
print(f"relay on {local4} {local6}:", " ".join(sorted(devs)), file=sys.stderr, flush=True)
poll = select.poll()
for fd in by_fd:
    poll.register(fd, select.POLLIN)
while True:
    for fd, _ in poll.poll():
        what, key = by_fd[fd]
        try:
            if what == "dev":
                from_dev(key, os.read(fd, 65536))
            else:
                data, src = socks[key].recvfrom(65536)
                from_underlay(key[0], key[1], data, src)
        except OSError as e:
            print("relay:", key, e, file=sys.stderr, flush=True)
EOF
}

# subst ARGS... replaces @L4 @R4 @L6 @R6 for the client (cli) or server side.
subst() {
	local side=$1
	shift
	local l4=$A4 r4=$B4 l6=$A6 r6=$B6
	if [ "$side" = srv ]; then l4=$B4 r4=$A4 l6=$B6 r6=$A6; fi
	local a out=()
	for a in "$@"; do
		case $a in
		@L4) out+=("$l4") ;; @R4) out+=("$r4") ;;
		@L6) out+=("$l6") ;; @R6) out+=("$r6") ;;
		*) out+=("$a") ;;
		esac
	done
	echo "${out[@]}"
}

setup_tunnels() {
	local t name typ n fams args err ns side h kind
	for t in "${TUNNELS[@]}"; do
		read -r name typ n fams args <<<"$t"
		# $args and subst's output are word lists: unquoted on purpose.
		# shellcheck disable=SC2046,SC2086
		if err=$(ip -n "$CLI" link add "$name" type "$typ" $(subst cli $args) 2>&1); then
			# shellcheck disable=SC2046,SC2086
			ip -n "$SRV" link add "$name" type "$typ" $(subst srv $args)
			KERNEL+=("$name")
			echo "$name: kernel $typ device"
		elif [ "${NFTUN_RELAY:-1}" = 0 ]; then
			SKIPPED+=("$typ: $err")
			echo "$name: skipped, ip link add type $typ: $err"
			continue
		else
			kind=tun
			case $typ in gretap | geneve) kind=tap ;; esac
			ip -n "$CLI" tuntap add dev "$name" mode "$kind"
			ip -n "$SRV" tuntap add dev "$name" mode "$kind"
			RELAY+=("$typ=$name")
			echo "$name: ip link add type $typ: $err; userspace relay on a $kind device"
		fi
	done
	write_relay
	if [ ${#RELAY[@]} -gt 0 ]; then
		bg_in "$CLI" /usr/bin/python3 "$WORK/relay.py" "$A4" "$B4" "$A6" "$B6" "${RELAY[@]}"
		bg_in "$SRV" /usr/bin/python3 "$WORK/relay.py" "$B4" "$A4" "$B6" "$A6" "${RELAY[@]}"
		sleep 1
	fi
	for t in "${TUNNELS[@]}"; do
		read -r name typ n fams args <<<"$t"
		ip -n "$CLI" link show "$name" >/dev/null 2>&1 || continue
		for side in cli srv; do
			ns=$CLI h=1
			[ "$side" = srv ] && ns=$SRV h=2
			ip -n "$ns" link set "$name" mtu "$MTU"
			no_offloads "$ns" "$name"
			case $fams in *6*) ;; *) ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$name.disable_ipv6=1" ;; esac
			case $fams in *4*) ip -n "$ns" addr add "10.78.$n.$h/24" dev "$name" ;; esac
			case $fams in *6*) ip -n "$ns" -6 addr add "fd00:78:$n::$h/64" dev "$name" nodad ;; esac
			ip -n "$ns" link set "$name" up
		done
	done
}

start_servers() {
	mkdir -p "$WORK/www"
	echo "nfpipe tunnel fixture" >"$WORK/www/index.html"
	bg_in "$SRV" /usr/bin/python3 -m http.server --bind :: --directory "$WORK/www" 8080 \
		>"$WORK/http.log" 2>&1
	local t name typ n fams args listen=()
	for t in "${TUNNELS[@]}"; do
		read -r name typ n fams args <<<"$t"
		ip -n "$SRV" link show "$name" >/dev/null 2>&1 || continue
		case $fams in *4*) listen+=("--listen-address=10.78.$n.2") ;; esac
		case $fams in *6*) listen+=("--listen-address=fd00:78:$n::2") ;; esac
	done
	bg_in "$SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --pid-file= --port=53 "${listen[@]}" \
		--host-record=www.nftun.test,192.0.2.80,2001:db8::80 \
		--log-facility="$WORK/dns.log"
	local addr=${listen[0]#--listen-address=}
	for _ in $(seq 1 50); do
		if in_cli curl -s -o /dev/null "http://$B4:8080/" &&
			in_srv dig +short +tries=1 +time=1 "@$addr" www.nftun.test >/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	echo "servers did not come up" >&2
	exit 1
}

# traffic NAME ADDR runs the three exchanges to the server's inner address.
traffic() {
	local name=$1 addr=$2 url=$2 rr=A ping=(ping)
	case $addr in *:*) url="[$addr]" rr=AAAA ping=(ping -6) ;; esac
	in_cli curl -sS -o /dev/null -w "$name: HTTP %{http_code} from $url, " "http://$url:8080/"
	echo -n "DNS $rr $(in_cli dig +tries=1 +time=2 "@$addr" www.nftun.test "$rr" +short), "
	in_cli "${ping[@]}" -q -c 2 -i 0.2 -W 2 "$addr" | tail -1
}

main() {
	if [ "$(id -u)" != 0 ]; then
		echo "record-tunnels.sh must run as root (it creates network namespaces)" >&2
		exit 1
	fi
	need ip:iproute2 ethtool:ethtool tcpdump:tcpdump tshark:tshark curl:curl \
		dig:dnsutils dnsmasq:dnsmasq-base ping:iputils-ping /usr/bin/python3:python3
	trap cleanup EXIT
	netns_pair "$VC" "$VS" "$A4/24 $A6/64" "$B4/24 $B6/64"
	learn_neighbours "$B4" "$B6"
	setup_tunnels
	start_servers
	# Let the kernels finish their own announcements (MLD reports on the new
	# devices) before recording.
	sleep 3

	echo "== recording tunnels.pcap (Ethernet, on $VC)"
	capture "$WORK/tunnels.pcap" -s 0 -i "$VC"
	local t name typ n fams args
	for t in "${TUNNELS[@]}"; do
		read -r name typ n fams args <<<"$t"
		ip -n "$CLI" link show "$name" >/dev/null 2>&1 || continue
		case $fams in *4*) traffic "$name" "10.78.$n.2" ;; esac
		case $fams in *6*) traffic "$name" "fd00:78:$n::2" ;; esac
	done
	stop_capture

	cp "$WORK/tunnels.pcap" "$HERE/tunnels.pcap"
	/usr/bin/python3 "$HERE/expected-conv.py" --prefix real/ "$HERE/tunnels.pcap" \
		>"$HERE/tunnels.expected-conv.csv"
	capinfos -c -u -E "$HERE/tunnels.pcap" | sed 1d
	echo "$(($(wc -l <"$HERE/tunnels.expected-conv.csv") - 1)) conversations in tunnels.expected-conv.csv"
	echo "kernel devices: ${KERNEL[*]:-none}"
	echo "userspace relay: ${RELAY[*]:-none}"
	local s
	for s in "${SKIPPED[@]}"; do echo "skipped $s"; done
}

main "$@"
