#!/usr/bin/env bash
# Prepare a local PostgreSQL server for the history-store tests: install
# the Debian package if missing, start the cluster, create the nfpipe role
# and the nfpipe_test database. Safe to run again. Needs root.
# Prints the DSN to use as NFPIPE_TEST_POSTGRES on its last line.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# Images built with create_main_cluster=false have the server but no cluster.
if [ -z "$(pg_lsclusters -h)" ]; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n1)" main >/dev/null
fi

# The first cluster Debian created (e.g. "15 main").
read -r ver cluster port status _ < <(pg_lsclusters -h | head -n1)
if [ "$status" != "online" ]; then
  pg_ctlcluster "$ver" "$cluster" start
fi

# Wait until the server accepts connections (a fresh start takes a moment).
for _ in $(seq 1 60); do
  if su postgres -c "pg_isready -q -p $port"; then
    break
  fi
  sleep 0.5
done
su postgres -c "pg_isready -q -p $port"

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -q -p $port -tA $*"; }

if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = 'nfpipe'\"")" != "1" ]; then
  psql_admin "-c \"CREATE ROLE nfpipe LOGIN PASSWORD 'nfpipe'\""
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = 'nfpipe_test'\"")" != "1" ]; then
  psql_admin "-c \"CREATE DATABASE nfpipe_test OWNER nfpipe\""
fi

echo "postgres://nfpipe:nfpipe@127.0.0.1:${port}/nfpipe_test?sslmode=disable"
