#!/usr/bin/env bash
# Throwaway or long-lived Postgres clusters from the system's binaries, no Docker.
# The one implementation used by `make up`, `make test` and the Rust test harness.
#
#   pg.sh ensure                install Postgres with apt-get if its binaries are missing
#   pg.sh init DIR              create a cluster in DIR (trust auth, loopback only), a copy
#                               of a template made by initdb once per server version
#   pg.sh tls DIR               give the (stopped) cluster in DIR TLS with a throwaway
#                               self-signed certificate and refuse connections without it
#   pg.sh start DIR PORT [fast] start it on 127.0.0.1:PORT; "fast" turns fsync off (tests)
#   pg.sh stop DIR              stop it (fast shutdown); no-op if not running
#   pg.sh kill DIR              stop it abruptly (immediate shutdown), as a crash would
#   pg.sh createdb PORT NAME    create database NAME unless it exists
#   pg.sh replica DIR PORT      make DIR a streaming hot standby of the server on PORT
#                               (pg_basebackup -R); no-op if DIR holds a cluster
#   pg.sh sync PORT on|off      make the server on PORT wait for its standby at each commit
#   pg.sh wait-sync PORT        wait (60 s at most) until the server on PORT has a
#                               synchronous standby streaming to it
#   pg.sh promote DIR PORT      promote the standby in DIR (on PORT) to primary; it stops
#                               waiting for a standby, having none
#
# Run as root, the server runs as the `postgres` user (initdb refuses root), so DIR's
# parent must be reachable by that user.
set -euo pipefail

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  ensure)
    bin=$(pg_bin)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
      echo "pg.sh: Postgres binaries not found; installing with apt-get" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql-15 >&2 || apt-get install -y -qq postgresql >&2
      # Debian starts a default cluster on install; we run our own.
      (service postgresql stop >/dev/null 2>&1 || true)
    fi
    ;;
  init)
    dir=$1
    if [ -f "$dir/PG_VERSION" ]; then exit 0; fi
    # initdb takes a second and a half to make the same empty cluster every time, and one
    # `make test` makes over a hundred (three a stack). The first is kept as a template,
    # one per server version and options, and the others are copies of it.
    options="-U postgres -A trust -E UTF8 --locale=C"
    version=$("$(pg_bin)/postgres" --version)
    template=${TMPDIR:-/tmp}/loyalty-pg-template-$(echo "$version $options" | md5sum | cut -c1-12)
    if [ ! -f "$template/PG_VERSION" ]; then
      made=$(mktemp -d "$template.XXXXXX")
      if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$made"; fi
      # shellcheck disable=SC2086 # the options are words
      as_pg "$(pg_bin)/initdb" -D "$made" $options --no-sync >"$made.log" 2>&1 || { cat "$made.log" >&2; exit 1; }
      rm -f "$made.log"
      # Atomic: of several made at once, the first renamed is the template.
      mv -T "$made" "$template" 2>/dev/null || rm -rf "$made"
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 700 "$dir"
    as_pg cp -a "$template/." "$dir/"
    ;;
  tls)
    # For what may only reach Postgres over TLS, as RDS demands of IAM auth tokens: a
    # connection that arrives without it is refused, so one that succeeds used it.
    dir=$1
    command -v openssl >/dev/null || apt-get install -y -qq openssl >&2
    as_pg openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 \
      -subj /CN=127.0.0.1 -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
    as_pg chmod 600 "$dir/server.key"
    echo "ssl = on" | as_pg tee -a "$dir/postgresql.conf" >/dev/null
    as_pg sed -i '1i hostnossl all all all reject' "$dir/pg_hba.conf"
    ;;
  start)
    dir=$1 port=$2 mode=${3:-}
    if as_pg "$(pg_bin)/pg_ctl" -D "$dir" status >/dev/null 2>&1; then exit 0; fi
    opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=300"
    if [ "$mode" = fast ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
    as_pg "$(pg_bin)/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null
    ;;
  stop|kill)
    dir=$1
    [ -f "$dir/postmaster.pid" ] || exit 0
    mode=fast; [ "$cmd" = kill ] && mode=immediate
    as_pg "$(pg_bin)/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
    ;;
  createdb)
    port=$1 name=$2
    exists=$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")
    [ "$exists" = 1 ] || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
    ;;
  replica)
    dir=$1 port=$2
    if [ -f "$dir/PG_VERSION" ]; then exit 0; fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; chmod 700 "$dir"; fi
    as_pg "$(pg_bin)/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$dir" -R -X stream -c fast --no-sync \
      >"$dir.basebackup.log" 2>&1 || { cat "$dir.basebackup.log" >&2; exit 1; }
    ;;
  sync)
    port=$1 mode=$2
    # Synchronous: a commit is acknowledged only once the standby has it, so promoting
    # the standby loses no acknowledged write (as RDS Multi-AZ does).
    if [ "$mode" = on ]; then setting="SET synchronous_standby_names = '*'"; else setting="RESET synchronous_standby_names"; fi
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -c "ALTER SYSTEM $setting" -c "SELECT pg_reload_conf()" >/dev/null
    ;;
  wait-sync)
    port=$1
    for _ in $(seq 1 120); do
      streaming=$(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'")
      [ "$streaming" -ge 1 ] && exit 0
      sleep 0.5
    done
    echo "pg.sh: no synchronous standby streams to the server on port $port after 60 s" >&2
    exit 1
    ;;
  promote)
    dir=$1 port=$2
    as_pg "$(pg_bin)/pg_ctl" -D "$dir" -w -t 60 promote >/dev/null
    bash "$0" sync "$port" off
    ;;
  *)
    sed -n '2,26p' "$0" >&2
    exit 2
    ;;
esac
