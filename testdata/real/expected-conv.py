#!/usr/bin/env python3
"""Write the TShark conversation oracle for capture files as CSV.

Usage:
    expected-conv.py [--prefix DIR/] [--root ROOT] FILE...   > expected-conv.csv

Each FILE is read with tshark; the `file` column is PREFIX + basename(FILE)
(or FILE relative to ROOT when --root is given). The output has exactly the
columns and the method of testdata/corpus/expected-conv.csv:

  file,proto,addrA,portA,addrB,portB,packets,bytes,packets_AtoB,bytes_AtoB,
  packets_BtoA,bytes_BtoA,rel_start,duration

- Rows, endpoints, packet counts, rel_start and duration come from
  `tshark -n -r FILE -q -z conv,tcp -z conv,udp`. A is the endpoint that sent
  the first packet (tshark's left column); packets_AtoB is its `->` column.
- Byte counts are sums of frame.len over the frames of each tcp.stream /
  udp.stream, taken from tshark's per-frame fields, because the conversation
  table rounds 10,000 bytes and more down to kB. Every computed value is
  checked against the table (exact, or floor(bytes/1000) for kB) and the
  script fails if one disagrees.
- A frame with several TCP/UDP layers (a tunnel: VXLAN and Geneve carry the
  inner packet in an outer UDP datagram) belongs to one conversation per
  layer, with its whole frame.len in each, as in tshark's table. tshark then
  prints one tcp.stream / udp.stream value per layer, comma-separated, and
  the ports in the same order; each distinct value counts the frame once.
  Layers quoted inside an ICMP error are left out (see quoted_layers). When
  both ends of a conversation use the same port, its direction comes from
  all IP source addresses of the frame, which is right as long as a tunnel's
  outer and inner addresses differ.
- Rows are ordered TCP first, then UDP, each by rel_start, ties by first frame.

Running it with --root testdata/corpus over the corpus valid/ and exotic/
files reproduces testdata/corpus/expected-conv.csv (see README.md).
"""

import argparse
import collections
import os
import re
import subprocess
import sys

TSHARK = os.environ.get("TSHARK", "tshark")

# One row of `-z conv,tcp|udp`:  A <-> B  fBA bBA unit  fAB bAB unit  f b unit  start  dur
ROW = re.compile(
    r"^(\S+)\s+<->\s+(\S+)\s+"
    r"(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+"
    r"(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+"
    r"(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+"
    r"(-?[0-9.]+)\s+(-?[0-9.]+)\s*$"
)
UNIT = {"bytes": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}


def split_endpoint(ep):
    """Split 'addr:port' (IPv6 addresses are printed without brackets)."""
    addr, _, port = ep.rpartition(":")
    return addr, int(port)


def conv_table(path):
    """Parse tshark's conversation tables into a list of dicts."""
    out = subprocess.run(
        [TSHARK, "-n", "-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
        check=False, capture_output=True, text=True,
    ).stdout
    rows, proto = [], None
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "tcp"
        elif line.startswith("UDP Conversations"):
            proto = "udp"
        m = ROW.match(line)
        if not m or proto is None:
            continue
        a, pa = split_endpoint(m.group(1))
        b, pb = split_endpoint(m.group(2))
        rows.append({
            "proto": proto, "a": a, "pa": pa, "b": b, "pb": pb,
            "f_ba": int(m.group(3)), "b_ba": (int(m.group(4)), m.group(5)),
            "f_ab": int(m.group(6)), "b_ab": (int(m.group(7)), m.group(8)),
            "f": int(m.group(9)), "b_tot": (int(m.group(10)), m.group(11)),
            "start": m.group(12), "dur": m.group(13),
        })
    return rows


def frames(path):
    """Per-frame fields: every occurrence of each field, in layer order."""
    fields = ["frame.number", "frame.time_relative", "frame.len",
              "tcp.stream", "tcp.srcport", "tcp.dstport",
              "udp.stream", "udp.srcport", "udp.dstport",
              "ip.src", "ipv6.src", "frame.protocols"]
    cmd = [TSHARK, "-n", "-r", path, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True).stdout
    for line in out.splitlines():
        v = line.split("\t")
        v += [""] * (len(fields) - len(v))
        yield dict(zip(fields, [x.split(",") if x else [] for x in v]))


def quoted_layers(stack, proto):
    """Indexes of the proto layers that sit inside an ICMP/ICMPv6 message.

    tshark gives a header quoted by an ICMP error a stream index, but does not
    count the frame in that conversation.
    """
    quoted, inside, k = set(), False, 0
    for p in stack:
        if p in ("icmp", "icmpv6"):
            inside = True
        elif p == proto:
            if inside:
                quoted.add(k)
            k += 1
    return quoted


def streams(path):
    """Aggregate frames per (proto, stream index)."""
    st = {}
    for fr in frames(path):
        num = int(fr["frame.number"][0])
        rel = fr["frame.time_relative"][0] if fr["frame.time_relative"] else ""
        length = int(fr["frame.len"][0])
        srcs = set(fr["ip.src"]) | set(fr["ipv6.src"])
        stack = ",".join(fr["frame.protocols"]).split(":")
        for proto in ("tcp", "udp"):
            ids = fr[proto + ".stream"]
            sps = fr[proto + ".srcport"]
            dps = fr[proto + ".dstport"]
            quoted = quoted_layers(stack, proto)
            seen = set()
            for i, sid in enumerate(ids):
                if sid in seen or i in quoted:  # a frame counts once per conversation
                    continue
                seen.add(sid)
                s = st.setdefault((proto, int(sid)), {
                    "first": num, "start": rel, "frames": [],
                })
                s["frames"].append((length,
                                    int(sps[i]) if i < len(sps) else None,
                                    int(dps[i]) if i < len(dps) else None,
                                    srcs))
    return st


def direction_bytes(row, s):
    """Return (packets_AtoB, bytes_AtoB, packets_BtoA, bytes_BtoA) for a stream."""
    pab = bab = pba = bba = 0
    for length, sp, dp, srcs in s["frames"]:
        if row["pa"] != row["pb"]:
            ab = sp == row["pa"] and dp == row["pb"]
        else:
            ab = row["a"] in srcs and not (row["b"] in srcs and row["a"] not in srcs)
        if ab:
            pab, bab = pab + 1, bab + length
        else:
            pba, bba = pba + 1, bba + length
    return pab, bab, pba, bba


def fits(value, shown):
    """Whether an exact byte count agrees with the table's (rounded) value."""
    n, unit = shown
    return value == n if unit == "bytes" else value // UNIT[unit] == n


def rows_for(path, label):
    table = conv_table(path)
    st = streams(path)
    used = set()
    result = []
    for row in table:
        candidates = []
        for key, s in sorted(st.items(), key=lambda kv: kv[1]["first"]):
            if key in used or key[0] != row["proto"] or len(s["frames"]) != row["f"]:
                continue
            ports = {p for fr in s["frames"] for p in (fr[1], fr[2])}
            if not {row["pa"], row["pb"]} <= ports:
                continue
            d = direction_bytes(row, s)
            if d[0] != row["f_ab"] or d[2] != row["f_ba"]:
                continue
            if not (fits(d[1], row["b_ab"]) and fits(d[3], row["b_ba"])
                    and fits(d[1] + d[3], row["b_tot"])):
                continue
            # frame.time_relative is a double and the table's start is the
            # earliest frame, so the start only ranks equally good streams.
            gap = abs(float(s["start"]) - float(row["start"])) if s["start"] else float("inf")
            candidates.append((gap, s["first"], key, s, d))
        match = min(candidates, key=lambda c: c[:2])[2:] if candidates else None
        if match is None:
            # No stream fits (e.g. frames without timestamps). Only exact table
            # values may be used then.
            if any(x[1] != "bytes" for x in (row["b_ab"], row["b_ba"], row["b_tot"])):
                sys.exit(f"{label}: no stream for {row} and table values are rounded")
            d = (row["f_ab"], row["b_ab"][0], row["f_ba"], row["b_ba"][0])
            first = float("inf")
            print(f"{label}: {row['proto']} {row['a']}:{row['pa']} <-> "
                  f"{row['b']}:{row['pb']}: no stream, using table bytes",
                  file=sys.stderr)
        else:
            used.add(match[0])
            d = match[2]
            first = match[1]["first"]
        result.append((0 if row["proto"] == "tcp" else 1, float(row["start"]), first, [
            label, row["proto"], row["a"], row["pa"], row["b"], row["pb"],
            row["f"], d[1] + d[3], d[0], d[1], d[2], d[3], row["start"], row["dur"],
        ]))
    result.sort(key=lambda r: r[:3])
    return [r[3] for r in result]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default="", help="prepended to the file's base name")
    ap.add_argument("--root", help="label files by their path relative to ROOT")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    print("file,proto,addrA,portA,addrB,portB,packets,bytes,packets_AtoB,"
          "bytes_AtoB,packets_BtoA,bytes_BtoA,rel_start,duration")
    labelled = []
    for f in args.files:
        label = (os.path.relpath(f, args.root) if args.root
                 else args.prefix + os.path.basename(f))
        labelled.append((label, f))
    for label, f in sorted(labelled):
        for r in rows_for(f, label):
            print(",".join(str(x) for x in r))


if __name__ == "__main__":
    main()
