#!/usr/bin/env python3
"""`make bench`: the side-by-side benchmarks of issue 8, in one run on this machine.

Brings up a release build of the platform on ports of its own (beside `make up`), plus
nginx (installed with apt-get if missing) routing by id prefix to the same APIs, then:

  hop        one group GET: direct to the API, through the router, through nginx, and
             through a proxy on hyper that only forwards (the floor of any Rust proxy)
  hop-tls    the same GET through a router whose upstream is an HTTPS instance of the
             API (rustls), beside the plain router, and how many TLS connections served it
  catalogue  the catalogue GET (moka cache) versus a static JSON endpoint, same server
  fanout     a user's groups over 3 regions (router) versus each single-region call
  fanout-wan the same with every region 5 ms away (each way) from the router and the
             client, through loyalty-faults: the cloud's shape, a router far from regions
  growth     the first page of a group's history at 10 k, 100 k and 1 M ledger entries
  redeem     redemptions through the router versus pgbench running the same SQL
             (1000 groups / no contention, and 5 hot groups with 20 clients)
  bill       bills of one dish through the router (the same two shapes)
  pages      the web console's pages under 20 connections (wrk), beside the API calls
             they make

`--servers DIR` runs the API and router binaries of another build (e.g. an older
commit's `target/release`) under the same load generator: an A/B of the servers alone.

Every pair alternates rounds within the run. The figures replace the part of
docs/BENCHMARKS.md between its `bench:begin` and `bench:end` markers.

    python3 infra/local/bench.py [--quick] [--only hop,fanout] [--keep]
"""

import argparse
import datetime
import json
import os
import time
import urllib.request
from pathlib import Path

import bench_pages
import bench_points
import benchkit as kit
from benchkit import load_layout, api, wan, log, run, ok, psql, bench, customer, new_group, settle, Platform

ALL = ["hop", "hop-tls", "catalogue", "fanout", "fanout-wan", "growth", "redeem", "bill", "pages"]


def section_hop(bin_dir, shape):
    return bench(bin_dir, "hop", *shape, "--router", kit.ROUTER, "--direct", api("001"),
                 "--nginx", f"http://127.0.0.1:{kit.NGINX_PORT}", "--bare", f"http://127.0.0.1:{kit.BARE_PORT}")


def tls_connections():
    """Established TCP connections to the HTTPS API instance: each began with one TLS
    handshake."""
    out = run(["ss", "-Htn", "state", "established", f"( dport = :{kit.TLS_API_PORT} )"], capture_output=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def section_hop_tls(bin_dir, shape):
    platform = Platform(bin_dir)
    platform.start_tls()
    try:
        user, token = customer("001")
        path = f"/v1/groups/{user['personal_group_id']}"
        out = bench(bin_dir, "compare", *shape, "--token", token, "--title",
                    "GET group of region 001: direct to the plain API instance, through the router to it, and through "
                    "a second router whose upstream is a second instance of the same API serving HTTPS (rustls; the "
                    "client side stays plain HTTP in all three)",
                    f"direct={api('001')}{path}", f"router={kit.ROUTER}{path}", f"router-tls-upstream={kit.TLS_ROUTER}{path}")
        conns = tls_connections()
        note = (f"\nTLS connections from the router to the HTTPS instance when the rounds ended: {conns}, "
                "each opened with one handshake and then kept alive in the router's pool (one pool per worker), "
                "so every request above rode one of them.\n")
        print(note, flush=True)
        return out + note
    finally:
        platform.stop("router-tls")
        platform.stop("tls-api-001")


def section_catalogue(bin_dir, shape):
    staff = ok("POST", f"{kit.ROUTER}/v1/sessions",
               {"email": "staff@001.loyalty.local", "password": kit.STAFF_PASSWORD})["token"]
    for i, (name, cents) in enumerate([("Ramen", 1250), ("Gyoza", 650), ("Matcha", 450)]):
        ok("POST", f"{kit.ROUTER}/v1/regions/001/catalogue",
           {"name": f"{name} {time.time_ns()}", "category": "mains", "price_cents": cents, "points_price": 100 + i},
           staff)
    size = len(urllib.request.urlopen(f"{api('001')}/v1/regions/001/catalogue").read())
    return bench(bin_dir, "compare", *shape, "--title", f"Catalogue of region 001 ({size} bytes) vs /healthz, "
                 "direct to the API",
                 f"catalogue={api('001')}/v1/regions/001/catalogue", f"static={api('001')}/healthz")


def fanout_user():
    """A customer of region 001 with a group in each region; (user id, token, groups by region)."""
    user, token = customer("001")
    uid = user["id"]
    groups = {"001": user["personal_group_id"]}
    for region in ("002", "003"):
        groups[region] = new_group(token, region, f"Fan {region}")
    for _ in range(100):  # the home index learns of the remote groups through the relay
        if len(ok("GET", f"{kit.ROUTER}/v1/users/{uid}", token=token)["groups"]) == 3:
            break
        time.sleep(0.1)
    return uid, token, groups


def section_fanout(bin_dir, shape):
    uid, token, groups = fanout_user()
    # One client: this compares latencies. Under a saturating load a fan-out (3 calls)
    # would lose on throughput whatever its latency.
    return bench(bin_dir, "compare", *shape, "--concurrency", "1", "--token", token, "--title",
                 f"GET /v1/users/{uid}/groups (3 groups in 3 regions) through the router, versus the calls it makes "
                 "(each region's part, direct; all three at once from the client), and versus a single-region GET "
                 "through the router (each region's group)",
                 f"fanout={kit.ROUTER}/v1/users/{uid}/groups",
                 # The same three calls sent at once by the client: the floor for any
                 # fan-out on this machine, router or not.
                 "parallel-direct=" + "|".join(f"{api(r)}/v1/users/{uid}/groups" for r in kit.REGIONS),
                 *[f"groups-{r}={api(r)}/v1/users/{uid}/groups" for r in kit.REGIONS],
                 *[f"router-group-{r}={kit.ROUTER}/v1/groups/{g}" for r, g in groups.items()])


def section_fanout_wan(bin_dir, shape):
    uid, token, _ = fanout_user()
    platform = Platform(bin_dir)
    platform.start_wan()
    try:
        # No CPU table: at some 75 requests a second, what the processes do while idle
        # (health checks, the relay's polling) would outweigh what the requests cost.
        return bench(bin_dir, "compare", *shape, "--concurrency", "1", "--token", token, "--title",
                     f"The fan-out again, every region {kit.WAN_MS} ms away (each way, through loyalty-faults) from the "
                     f"router and from the client: GET /v1/users/{uid}/groups through a router whose regions sit "
                     "behind those links, versus each region's part sent directly over its link",
                     f"fanout={kit.WAN_ROUTER}/v1/users/{uid}/groups",
                     *[f"groups-{r}={wan(r)}/v1/users/{uid}/groups" for r in kit.REGIONS], cpu=False)
    finally:
        platform.stop("router-wan")
        platform.stop("wan-links")


def seed_entries(group, user, n, base):
    # Entry ids are valid ULIDs (hex digits are Crockford digits), distinct across groups by `base`.
    psql(f"""
INSERT INTO ledger_entries (id, group_id, user_id, kind, points, amount_cents, store_region, balance_after,
                            idempotency_key, created_on)
SELECT '001-' || upper(lpad(to_hex(i + {base}), 26, '0')), '{group}', '{user}', 'award', 1, 100, '001', i, 'seed-' || i,
       now() - interval '1 millisecond' * ({n} - i)
  FROM generate_series(1, {n}) AS i;
UPDATE groups SET points = points + {n} WHERE id = '{group}';""")


def section_growth(bin_dir, shape):
    user, token = customer("001")
    targets = []
    for k, (n, label) in enumerate([(10_000, "10k"), (100_000, "100k"), (1_000_000, "1M")]):
        group = new_group(token, "001", f"Growth {label}")
        log(f"seeding {n} ledger entries into {group}")
        seed_entries(group, user["id"], n, (k + 1) * 10**8)
        targets.append(f"{label}={kit.ROUTER}/v1/groups/{group}/transactions?limit=20")
    settle("ledger_entries")
    return bench(bin_dir, "compare", *shape, "--token", token, "--title",
                 "First page (20 entries) of a group's history through the router, by ledger size", *targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s each (a smoke run)")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated sections")
    parser.add_argument("--keep", action="store_true", help="leave the deployment running")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/BENCHMARKS.md")
    parser.add_argument("--servers", help="run the API and router binaries of this directory (another build)")
    args = parser.parse_args()
    rounds, seconds = (1, 2) if args.quick else (3, 5)
    shape = ["--rounds", str(rounds), "--seconds", str(seconds)]
    only = [s for s in args.only.split(",") if s]

    log("building release binaries")
    run(["cargo", "build", "--release", "--locked", "--bin", "loyalty-api", "--bin", "loyalty-router",
         "--bin", "loyalty-bench", "--bin", "loyalty-bare-proxy", "--bin", "loyalty-faults",
         "--bin", "loyalty-topology", "--bin", "loyalty-web"], cwd=kit.ROOT)
    meta = json.loads(run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=kit.ROOT,
                          capture_output=True).stdout)
    bin_dir = Path(meta["target_directory"]) / "release"
    load_layout(bin_dir)
    platform = Platform(Path(args.servers) if args.servers else bin_dir)
    sections = {}
    try:
        platform.up()
        for name in only:
            log(f"benchmark: {name}")
            if name == "pages":
                sections[name] = bench_pages.section_pages(bin_dir, platform)
            elif name in ("redeem", "bill"):
                sections[name] = getattr(bench_points, f"section_{name}")(bin_dir, rounds, seconds)
            else:
                sections[name] = globals()[f"section_{name.replace('-', '_')}"](bin_dir, shape)
    finally:
        if not args.keep:
            platform.down()
    if args.no_doc:
        return
    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=kit.ROOT, capture_output=True).stdout.strip()
    cores = os.cpu_count()
    body = [f"Run of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit {commit}, "
            f"{cores} cores, release build, `python3 infra/local/bench.py --only {','.join(only)}`"
            f"{' --quick' if args.quick else ''} (`make bench`).\n"]
    titles = {"hop": "Router hop", "hop-tls": "Router hop with TLS to the upstream", "catalogue": "Catalogue cache",
              "fanout": "Fan-out",
              "fanout-wan": "Fan-out over wide-area links",
              "growth": "History growth", "redeem": "Redemptions versus pgbench", "bill": "Bills",
              "pages": "Web console pages"}
    for name in only:
        body.append(f"### {titles[name]}\n\n{sections[name].strip()}\n")
    doc = kit.ROOT / "docs" / "BENCHMARKS.md"
    text = doc.read_text() if doc.exists() else "<!-- bench:begin -->\n<!-- bench:end -->\n"
    begin, end = text.index("<!-- bench:begin -->"), text.index("<!-- bench:end -->")
    doc.write_text(text[:begin] + "<!-- bench:begin -->\n" + "\n".join(body) + text[end:])
    log(f"figures written to {doc}")


if __name__ == "__main__":
    main()
