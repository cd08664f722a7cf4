# shellcheck shell=bash
# netns.sh - helpers shared by the scripts that record real traffic between
# two network namespaces (testdata/real/record.sh, record-tunnels.sh and
# stages/filter/testdata/record-portscan.sh). Sourced, not run: it only
# defines functions.
#
# The caller sets, before calling them:
#   CLI   name of the client namespace (tcpdump and clients run there)
#   SRV   name of the server namespace
#   WORK  a scratch directory, removed by cleanup
#   PIDS  an array (PIDS=()) of background processes that cleanup stops
# Each function's comment names the ones it uses (need and no_offloads
# use none).
#
# shellcheck disable=SC2154 # CLI SRV WORK PIDS come from the caller.

# need CMD:PKG... installs with apt-get the package PKG of every command CMD
# that is missing. A CMD with a slash (/usr/bin/python3) must be an
# executable file at that path; any other is looked up in PATH.
need() {
	local pair cmd missing=()
	for pair in "$@"; do
		cmd=${pair%%:*}
		if [[ $cmd == */* ]]; then
			[ -x "$cmd" ] && continue
		else
			command -v "$cmd" >/dev/null && continue
		fi
		missing+=("${pair#*:}")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
	fi
}

# cleanup stops and reaps the processes in PIDS, deletes the namespaces CLI
# and SRV and removes WORK. Meant for `trap cleanup EXIT`.
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	ip netns del "$CLI" 2>/dev/null || true
	ip netns del "$SRV" 2>/dev/null || true
	rm -rf "$WORK"
}

# in_cli CMD... and in_srv CMD... run CMD in namespace CLI or SRV.
in_cli() { ip netns exec "$CLI" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

# bg_in NS CMD... starts CMD in namespace NS in the background and appends
# its pid to PIDS for cleanup (ip netns exec execs CMD, so the pid is the
# command's own, and a signal sent to it reaches the command).
bg_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" &
	PIDS+=($!)
}

# no_offloads NS DEV turns off checksum offload, TSO, GSO and GRO on DEV in
# namespace NS, so captured frames are real on-the-wire frames with correct
# checksums. A device without some of these settings is left as it is.
no_offloads() {
	ip netns exec "$1" ethtool -K "$2" rx off tx off tso off gso off gro off >/dev/null 2>&1 || true
}

# netns_pair CDEV SDEV CADDRS SADDRS (re)creates the namespaces CLI and SRV,
# with lo up and no IPv6 router solicitations, joined by the veth pair CDEV
# (in CLI) / SDEV (in SRV), MTU 1500, offloads off (no_offloads), both ends
# up. CADDRS and SADDRS are space-separated lists of address/prefix added to
# CDEV and SDEV in that order; IPv6 ones (with a colon) are added nodad.
# Leftovers of an earlier run (namespaces of the same names) are removed
# first.
netns_pair() {
	local cdev=$1 sdev=$2 caddrs=$3 saddrs=$4 ns dev addrs a
	ip netns del "$CLI" 2>/dev/null || true
	ip netns del "$SRV" 2>/dev/null || true
	ip netns add "$CLI"
	ip netns add "$SRV"
	for ns in "$CLI" "$SRV"; do
		# No router solicitations: nothing answers them here.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.router_solicitations=0
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0
		ip netns exec "$ns" ip link set lo up
	done
	ip link add "$cdev" netns "$CLI" mtu 1500 type veth peer name "$sdev" netns "$SRV" mtu 1500
	for ns in "$CLI" "$SRV"; do
		if [ "$ns" = "$CLI" ]; then dev=$cdev addrs=$caddrs; else dev=$sdev addrs=$saddrs; fi
		no_offloads "$ns" "$dev"
		# $addrs is a word list: unquoted on purpose.
		for a in $addrs; do
			case $a in
			*:*) ip netns exec "$ns" ip -6 addr add "$a" dev "$dev" nodad ;;
			*) ip netns exec "$ns" ip addr add "$a" dev "$dev" ;;
			esac
		done
		ip netns exec "$ns" ip link set "$dev" up
	done
}

# learn_neighbours ADDR... pings each ADDR (IPv4 or IPv6) once from CLI, so
# that ARP and neighbour discovery are done before a recording starts.
learn_neighbours() {
	local a
	for a in "$@"; do
		case $a in
		*:*) in_cli ping -q -6 -c 1 -W 2 "$a" >/dev/null ;;
		*) in_cli ping -q -c 1 -W 2 "$a" >/dev/null ;;
		esac
	done
}

# capture FILE TCPDUMP-ARGS... starts tcpdump -Z root -n -U TCPDUMP-ARGS
# -w FILE in namespace CLI and waits until it is listening. It sets
# TCPDUMP_PID (also appended to PIDS) and TCPDUMP_LOG (tcpdump's stderr, in
# WORK) for stop_capture. Uses CLI, WORK, PIDS.
capture() {
	local out=$1
	shift
	TCPDUMP_LOG=$WORK/${out##*/}.log
	ip netns exec "$CLI" tcpdump -Z root -n -U "$@" -w "$out" 2>"$TCPDUMP_LOG" &
	TCPDUMP_PID=$!
	PIDS+=("$TCPDUMP_PID")
	for _ in $(seq 1 50); do
		grep -q "listening on" "$TCPDUMP_LOG" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5
}

# stop_capture lets the last packets arrive, stops the tcpdump that capture
# started (SIGINT, so it flushes FILE) and copies its log to stderr.
stop_capture() {
	sleep 1
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" || true
	cat "$TCPDUMP_LOG" >&2
}
