-- Initial schema. Times are integer nanoseconds since the Unix epoch:
-- packet time for flows, ip_stats and alerts, wall-clock time for events
-- and batches. flows has no secondary index on purpose: flow_blocks is
-- its index (time bounds and a Bloom filter per block of rows).
CREATE TABLE flows (
  id           INTEGER PRIMARY KEY,
  probe        TEXT    NOT NULL DEFAULT '',
  flow_id      INTEGER NOT NULL,
  proto        INTEGER NOT NULL,
  client_ip    TEXT    NOT NULL,
  client_port  INTEGER NOT NULL,
  server_ip    TEXT    NOT NULL,
  server_port  INTEGER NOT NULL,
  vlan         INTEGER NOT NULL,
  first_seen   INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  c2s_packets  INTEGER NOT NULL,
  c2s_bytes    INTEGER NOT NULL,
  s2c_packets  INTEGER NOT NULL,
  s2c_bytes    INTEGER NOT NULL,
  tcp_state    TEXT,
  flags_c2s    INTEGER NOT NULL,
  flags_s2c    INTEGER NOT NULL,
  rtt_ns       INTEGER NOT NULL,
  end_reason   TEXT,
  client_geo_label TEXT, client_cc TEXT, client_country TEXT, client_city TEXT,
  client_lat   REAL, client_lon REAL, client_asn INTEGER, client_as_org TEXT,
  server_geo_label TEXT, server_cc TEXT, server_country TEXT, server_city TEXT,
  server_lat   REAL, server_lon REAL, server_asn INTEGER, server_as_org TEXT,
  tags         TEXT,
  attrs        TEXT
);
--bun:split
-- The skip index of flows: see bloom.go. One row per run of at most 4096
-- flows of one probe; rows are scanned by id range within a block.
CREATE TABLE flow_blocks (
  id        INTEGER PRIMARY KEY,
  probe     TEXT    NOT NULL DEFAULT '',
  lo_id     INTEGER NOT NULL,
  hi_id     INTEGER NOT NULL,
  rows      INTEGER NOT NULL,
  min_last  INTEGER NOT NULL,
  max_last  INTEGER NOT NULL,
  bloom_hi  INTEGER NOT NULL,
  bloom     BLOB
);
--bun:split
CREATE INDEX flow_blocks_max_last ON flow_blocks (max_last);
--bun:split
CREATE TABLE ip_stats (
  probe        TEXT    NOT NULL DEFAULT '',
  res          INTEGER NOT NULL,
  bucket       INTEGER NOT NULL,
  ip           TEXT    NOT NULL,
  bytes_in     INTEGER NOT NULL,
  bytes_out    INTEGER NOT NULL,
  packets_in   INTEGER NOT NULL,
  packets_out  INTEGER NOT NULL,
  flows        INTEGER NOT NULL,
  peers        INTEGER NOT NULL,
  dst_ports    INTEGER NOT NULL,
  intervals    INTEGER NOT NULL,
  geo_label TEXT, cc TEXT, country TEXT, city TEXT,
  lat REAL, lon REAL, asn INTEGER, as_org TEXT,
  PRIMARY KEY (res, bucket, ip, probe)
) WITHOUT ROWID;
--bun:split
CREATE INDEX ip_stats_ip ON ip_stats (ip, res, bucket);
--bun:split
CREATE TABLE alerts (
  id          INTEGER PRIMARY KEY,
  probe       TEXT    NOT NULL DEFAULT '',
  alert_id    TEXT    NOT NULL,
  rule        TEXT    NOT NULL,
  severity    TEXT    NOT NULL,
  time        INTEGER NOT NULL,
  state       TEXT    NOT NULL,
  subject     TEXT    NOT NULL,
  message     TEXT    NOT NULL,
  dedupe_key  TEXT    NOT NULL,
  labels      TEXT,
  record      TEXT
);
--bun:split
CREATE INDEX alerts_time ON alerts (time);
--bun:split
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  probe       TEXT    NOT NULL DEFAULT '',
  time        INTEGER NOT NULL,
  kind        TEXT    NOT NULL,
  component   TEXT    NOT NULL,
  message     TEXT    NOT NULL
);
--bun:split
CREATE INDEX events_time ON events (time);
--bun:split
CREATE TABLE batches (
  id          INTEGER PRIMARY KEY,
  probe       TEXT    NOT NULL DEFAULT '',
  time        INTEGER NOT NULL,
  flows       INTEGER NOT NULL,
  ip_stats    INTEGER NOT NULL,
  alerts      INTEGER NOT NULL,
  events      INTEGER NOT NULL
);
--bun:split
CREATE INDEX batches_time ON batches (time);
