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
import re
import resource
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".local" / "bench"
# Every port and region comes from infra/local/topology.toml's `bench` deployment,
# through `loyalty-topology json` (load_layout, once the binaries are built).
LAYOUT = {}
REGIONS = ()
ROUTER_PORT = NGINX_PORT = BARE_PORT = PG_001 = 0
ROUTER = ""
# fanout-wan: a second router whose regions sit behind loyalty-faults links, each adding
# WAN_MS to every packet in each direction (a round trip takes 2 × WAN_MS longer).
WAN_ROUTER_PORT = WAN_CONTROL_PORT = WAN_ROUTER_ADMIN_PORT = WAN_LINK_BASE = 0
WAN_MS = 5
WAN_ROUTER = ""
# hop-tls: a second API instance of region 001 serving HTTPS, and a second router that
# reaches 001 through it (https://, the local CA), beside the plain ones.
TLS_API_PORT = TLS_ROUTER_PORT = TLS_ROUTER_ADMIN_PORT = 0
TLS_ROUTER = ""


def load_layout(bin_dir):
    """The bench deployment's ports, from the topology."""
    global LAYOUT, REGIONS, ROUTER_PORT, NGINX_PORT, BARE_PORT, PG_001, ROUTER, WAN_ROUTER_PORT, WAN_CONTROL_PORT
    global WAN_ROUTER_ADMIN_PORT, WAN_LINK_BASE, WAN_ROUTER, TLS_API_PORT, TLS_ROUTER_PORT, TLS_ROUTER_ADMIN_PORT
    global TLS_ROUTER
    LAYOUT = json.loads(run([str(bin_dir / "loyalty-topology"), "json", "--deployment", "bench"],
                            capture_output=True).stdout)
    extra = LAYOUT["extra"]
    REGIONS = tuple(r["id"] for r in LAYOUT["regions"])
    ROUTER_PORT, NGINX_PORT, BARE_PORT = LAYOUT["router"], extra["nginx"], extra["bare_proxy"]
    PG_001 = region("001")["postgres"]["port"]
    ROUTER = f"http://127.0.0.1:{ROUTER_PORT}"
    WAN_ROUTER_PORT, WAN_CONTROL_PORT = extra["wan_router"], extra["wan_control"]
    WAN_ROUTER_ADMIN_PORT, WAN_LINK_BASE = extra["wan_router_admin"], extra["wan_links"]
    WAN_ROUTER = f"http://127.0.0.1:{WAN_ROUTER_PORT}"
    TLS_API_PORT, TLS_ROUTER_PORT, TLS_ROUTER_ADMIN_PORT = extra["tls_api"], extra["tls_router"], extra["tls_router_admin"]
    TLS_ROUTER = f"http://127.0.0.1:{TLS_ROUTER_PORT}"


def region(rid):
    return next(r for r in LAYOUT["regions"] if r["id"] == rid)


STAFF_PASSWORD = os.environ.get("LOYALTY_STAFF_PASSWORD", "change-me-staff")
ALL = ["hop", "hop-tls", "catalogue", "fanout", "fanout-wan", "growth", "redeem", "bill"]


def api(rid, instance=0):
    return f"http://127.0.0.1:{region(rid)['api'][instance]['port']}"


def wan(region):
    """Region's API behind its simulated wide-area link."""
    return f"http://127.0.0.1:{WAN_LINK_BASE + int(region)}"


def log(*parts):
    print("==>", *parts, file=sys.stderr, flush=True)


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, check=True, text=True, **kw)
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{err.stdout or ''}\n{err.stderr or ''}") from err


def http(method, url, body=None, token=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    if key:
        req.add_header("idempotency-key", key)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def ok(method, url, body=None, token=None, key=None):
    status, answer = http(method, url, body, token, key)
    if status >= 300:
        raise SystemExit(f"{method} {url}: {status} {answer}")
    return answer


def psql(sql, db="loyalty"):
    return run(["psql", "-h", "127.0.0.1", "-p", str(PG_001), "-U", "postgres", "-d", db, "-qAt",
                "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True).stdout.strip()


def service_token():
    """The deployment's service token, which up.sh generated into the state folder."""
    secrets = dict(line.split("=", 1) for line in (STATE / "secrets.env").read_text().split())
    return secrets["LOYALTY_SERVICE_TOKEN"]


def router_env(port, admin_port):
    """The environment of an extra router on `port`, limited as up.sh limits the local one."""
    env = dict(os.environ, LOYALTY_ROUTER_LISTEN=f"127.0.0.1:{port}", LOYALTY_ROUTER_ADMIN_LISTEN=f"127.0.0.1:{admin_port}",
               LOYALTY_ROUTER_SERVICE_TOKEN=service_token())
    # As up.sh does locally: every client here is 127.0.0.1, one address.
    for limit in ("PER_ADDRESS", "SIGN_UP_PER_ADDRESS", "LOGIN_PER_ADDRESS", "JOIN_PER_ADDRESS"):
        env[f"LOYALTY_ROUTER_LIMITS__{limit}__PER_MINUTE"] = "60000000"
        env[f"LOYALTY_ROUTER_LIMITS__{limit}__BURST"] = "1000000"
    return env


class Platform:
    def __init__(self, bin_dir):
        self.env = dict(os.environ, LOYALTY_STATE_DIR=str(STATE), LOYALTY_DEPLOYMENT="bench", PROFILE="release",
                        SKIP_BUILD="1", BIN_DIR=str(bin_dir))
        self.nginx_dir = STATE / "nginx"
        self.bin_dir = bin_dir

    def spawn(self, name, cmd, ready_url, env=None, ca=None):
        """Starts a helper process; its pid file sits beside the platform's, so down.sh
        stops it with them. `ca`: the CA file an https `ready_url` is checked with."""
        log_file = open(STATE / "log" / f"{name}.log", "ab")
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=log_file, start_new_session=True, env=env)
        (STATE / "run" / f"{name}.pid").write_text(str(proc.pid))
        context = ssl.create_default_context(cafile=str(ca)) if ca else None
        for _ in range(100):
            try:
                with urllib.request.urlopen(ready_url, timeout=1, context=context):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not come up")

    def stop(self, name):
        """Stops a helper process started by `spawn`."""
        pid_file = STATE / "run" / f"{name}.pid"
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        pid_file.unlink(missing_ok=True)

    def start_bare_proxy(self):
        """The hop's floor: a proxy on hyper that only forwards, to region 001's API."""
        self.spawn("bare-proxy", [str(self.bin_dir / "loyalty-bare-proxy"), "--listen", f"127.0.0.1:{BARE_PORT}",
                                  "--upstream", api("001")], f"http://127.0.0.1:{BARE_PORT}/readyz")

    def start_wan(self):
        """A second router, configured as the first but reaching every region through a
        loyalty-faults link that delays each packet by WAN_MS: a router far from the
        regions, as in the cloud deployment, where a call's time is mostly the network's.
        Only its own section runs them: idle, they would still cost the other sections CPU."""
        control = f"http://127.0.0.1:{WAN_CONTROL_PORT}"
        links = [arg for r in REGIONS for arg in ("--link", f"wan-{r}={wan(r)[7:]}={api(r)[7:]}")]
        self.spawn("wan-links", [str(self.bin_dir / "loyalty-faults"), "--control", control[7:], *links],
                   f"{control}/links")
        for r in REGIONS:
            ok("PUT", f"{control}/links/wan-{r}", {"fault": "latency", "ms": WAN_MS})
        topology = (STATE / "topology.toml").read_text()
        for r in REGIONS:
            topology = topology.replace(f'"{api(r)}"', f'"{wan(r)}"')
        (STATE / "topology-wan.toml").write_text(topology)
        self.spawn("router-wan", [str(self.bin_dir / "loyalty-router"), "--config", str(STATE / "topology-wan.toml")],
                   f"{WAN_ROUTER}/readyz", router_env(WAN_ROUTER_PORT, WAN_ROUTER_ADMIN_PORT))

    def start_tls(self):
        """A second API instance of region 001 serving HTTPS (same database), and a
        second router reaching 001 through it with the local CA: the router's upstream
        hop with TLS, beside the plain one."""
        tls_dir = STATE / "tls"
        run(["bash", str(ROOT / "infra/local/tls.sh"), str(tls_dir)], capture_output=True)
        env = dict(os.environ, LOYALTY_REGION="001", LOYALTY_LISTEN=f"127.0.0.1:{TLS_API_PORT}",
                   LOYALTY_DATABASE_URL=f"postgres://postgres@127.0.0.1:{PG_001}/loyalty",
                   LOYALTY_AUTH__SIGNING_KEY=(STATE / "keys" / "001.seed").read_text().strip(),
                   LOYALTY_SERVICE_TOKEN=service_token(),
                   LOYALTY_TLS__CERT_FILE=str(tls_dir / "server.pem"), LOYALTY_TLS__KEY_FILE=str(tls_dir / "server.key"))
        self.spawn("tls-api-001", [str(self.bin_dir / "loyalty-api"), "--config", str(STATE / "topology.toml")],
                   f"https://127.0.0.1:{TLS_API_PORT}/readyz", env, ca=tls_dir / "ca.pem")
        topology = (STATE / "topology.toml").read_text().replace(f'"{api("001")}"', f'"https://127.0.0.1:{TLS_API_PORT}"')
        (STATE / "topology-tls.toml").write_text(f'[tls]\nca_file = "{tls_dir / "ca.pem"}"\n\n' + topology)
        self.spawn("router-tls", [str(self.bin_dir / "loyalty-router"), "--config", str(STATE / "topology-tls.toml")],
                   f"{TLS_ROUTER}/readyz", router_env(TLS_ROUTER_PORT, TLS_ROUTER_ADMIN_PORT))

    def stop_nginx(self):
        if (self.nginx_dir / "nginx.pid").exists():
            subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.nginx_dir), "-c", "nginx.conf",
                            "-s", "stop"], capture_output=True)

    def up(self):
        self.stop_nginx()
        run(["bash", str(ROOT / "infra/local/down.sh")], env=self.env, capture_output=True)
        shutil.rmtree(STATE, ignore_errors=True)  # every run starts from empty databases
        log("bringing up a release deployment on its own ports")
        run(["bash", str(ROOT / "infra/local/up.sh")], env=self.env, capture_output=True)
        self.start_nginx()
        self.start_bare_proxy()

    def down(self):
        self.stop_nginx()
        run(["bash", str(ROOT / "infra/local/down.sh")], env=self.env, capture_output=True)

    def start_nginx(self):
        if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
            log("nginx missing: installing it with apt-get")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            run(["apt-get", "install", "-y", "-qq", "nginx-light"], env=env, capture_output=True)
            subprocess.run(["service", "nginx", "stop"], capture_output=True)
        self.nginx_dir.mkdir(parents=True, exist_ok=True)
        upstreams = "\n".join(
            f"  upstream r{r} {{ server {api(r)[7:]}; keepalive 64; }}" for r in REGIONS)
        # Like the router: the region from the id in the path, keep-alive to the APIs.
        (self.nginx_dir / "nginx.conf").write_text(f"""
worker_processes 2;
pid {self.nginx_dir}/nginx.pid;
error_log {self.nginx_dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {self.nginx_dir}/body;
  proxy_temp_path {self.nginx_dir}/proxy;
{upstreams}
  map $uri $region {{
    "~^/v1/(users|groups|catalogue/items)/(?<r>[0-9]{{3}})-" $r;
    "~^/v1/regions/(?<r>[0-9]{{3}})/" $r;
    default 001;
  }}
  server {{
    listen 127.0.0.1:{NGINX_PORT};
    location / {{
      proxy_pass http://r$region;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        run([nginx, "-p", str(self.nginx_dir), "-c", "nginx.conf"], capture_output=True)


def bench(bin_dir, *args, cpu=True):
    """Runs loyalty-bench, with each component's CPU time per request unless `cpu` is
    false; returns what it printed (its figures)."""
    out = run([str(bin_dir / "loyalty-bench"), *args, *(cpu_args() if cpu else [])], stdout=subprocess.PIPE).stdout
    print(out, flush=True)
    return out


def components():
    """The processes under test, by component: region APIs, router, nginx, the bare proxy, Postgres."""
    run_dir = STATE / "run"
    found = {"api": [int(p.read_text()) for p in sorted(run_dir.glob("api-*.pid"))],
             "router": [int((run_dir / "router.pid").read_text())],
             "nginx": [int((STATE / "nginx" / "nginx.pid").read_text())],
             "bare-proxy": [int((run_dir / "bare-proxy.pid").read_text())],
             "postgres": [int((STATE / "pg" / r / "postmaster.pid").read_text().split()[0]) for r in REGIONS]}
    for extra in ("router-tls", "tls-api-001"):
        if (run_dir / f"{extra}.pid").exists():
            found[extra] = [int((run_dir / f"{extra}.pid").read_text())]
    return found


def cpu_args():
    """--cpu arguments: loyalty-bench reports each component's CPU time per request."""
    return [arg for name, pids in components().items() for arg in ("--cpu", f"{name}={','.join(map(str, pids))}")]


def cpu_seconds(bin_dir):
    """Each component's CPU seconds so far (processes with their children, from /proc)."""
    return json.loads(run([str(bin_dir / "loyalty-bench"), "cpu", *cpu_args()], capture_output=True).stdout)


def customer(region="001"):
    email = f"bench-{time.time_ns()}@bench.test"
    user = ok("POST", f"{ROUTER}/v1/users",
              {"email": email, "password": "bench password 1", "full_name": "Bench", "home_region": region})
    token = ok("POST", f"{ROUTER}/v1/sessions", {"email": email, "password": "bench password 1"})["token"]
    return user, token


def new_group(token, region, name):
    return ok("POST", f"{ROUTER}/v1/groups", {"name": name, "location": "Benchville", "region": region}, token)["id"]


def section_hop(bin_dir, shape):
    return bench(bin_dir, "hop", *shape, "--router", ROUTER, "--direct", api("001"),
                 "--nginx", f"http://127.0.0.1:{NGINX_PORT}", "--bare", f"http://127.0.0.1:{BARE_PORT}")


def tls_connections():
    """Established TCP connections to the HTTPS API instance: each began with one TLS
    handshake."""
    out = run(["ss", "-Htn", "state", "established", f"( dport = :{TLS_API_PORT} )"], capture_output=True).stdout
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
                    f"direct={api('001')}{path}", f"router={ROUTER}{path}", f"router-tls-upstream={TLS_ROUTER}{path}")
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
    staff = ok("POST", f"{ROUTER}/v1/sessions",
               {"email": "staff@001.loyalty.local", "password": STAFF_PASSWORD})["token"]
    for i, (name, cents) in enumerate([("Ramen", 1250), ("Gyoza", 650), ("Matcha", 450)]):
        ok("POST", f"{ROUTER}/v1/regions/001/catalogue",
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
        if len(ok("GET", f"{ROUTER}/v1/users/{uid}", token=token)["groups"]) == 3:
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
                 f"fanout={ROUTER}/v1/users/{uid}/groups",
                 # The same three calls sent at once by the client: the floor for any
                 # fan-out on this machine, router or not.
                 "parallel-direct=" + "|".join(f"{api(r)}/v1/users/{uid}/groups" for r in REGIONS),
                 *[f"groups-{r}={api(r)}/v1/users/{uid}/groups" for r in REGIONS],
                 *[f"router-group-{r}={ROUTER}/v1/groups/{g}" for r, g in groups.items()])


def section_fanout_wan(bin_dir, shape):
    uid, token, _ = fanout_user()
    platform = Platform(bin_dir)
    platform.start_wan()
    try:
        # No CPU table: at some 75 requests a second, what the processes do while idle
        # (health checks, the relay's polling) would outweigh what the requests cost.
        return bench(bin_dir, "compare", *shape, "--concurrency", "1", "--token", token, "--title",
                     f"The fan-out again, every region {WAN_MS} ms away (each way, through loyalty-faults) from the "
                     f"router and from the client: GET /v1/users/{uid}/groups through a router whose regions sit "
                     "behind those links, versus each region's part sent directly over its link",
                     f"fanout={WAN_ROUTER}/v1/users/{uid}/groups",
                     *[f"groups-{r}={wan(r)}/v1/users/{uid}/groups" for r in REGIONS], cpu=False)
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


def settle(table):
    """After a bulk seed: fresh statistics, and the seed's dirty pages written out now. A
    seed of a million rows starts a checkpoint that spreads its writes over minutes and
    ends in fsyncs; left alone, they land in whichever rounds run then."""
    psql(f"VACUUM ANALYZE {table}")
    psql("CHECKPOINT")


def section_growth(bin_dir, shape):
    user, token = customer("001")
    targets = []
    for k, (n, label) in enumerate([(10_000, "10k"), (100_000, "100k"), (1_000_000, "1M")]):
        group = new_group(token, "001", f"Growth {label}")
        log(f"seeding {n} ledger entries into {group}")
        seed_entries(group, user["id"], n, (k + 1) * 10**8)
        targets.append(f"{label}={ROUTER}/v1/groups/{group}/transactions?limit=20")
    settle("ledger_entries")
    return bench(bin_dir, "compare", *shape, "--token", token, "--title",
                 "First page (20 entries) of a group's history through the router, by ledger size", *targets)


def pgbench_round(bin_dir, prefix, groups, caller, clients, seconds, logdir):
    for f in logdir.glob("pgbench_log*"):
        f.unlink()
    cpu_before = cpu_seconds(bin_dir)
    client_before = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    out = run(["pgbench", "-h", "127.0.0.1", "-p", str(PG_001), "-U", "postgres", "-n", "-M", "prepared",
               "-c", str(clients), "-j", "2", "-T", str(seconds), "--max-tries=10", "-l",
               "--log-prefix", str(logdir / "pgbench_log"), "-f", str(ROOT / "bench/sql/redeem.sql"),
               "-D", f"prefix={prefix}", "-D", f"groups={groups}", "-D", f"caller={caller}", "loyalty"],
              capture_output=True).stdout
    latencies, failed = [], 0
    for path in logdir.glob("pgbench_log*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if fields[2] in ("failed", "skipped"):
                failed += 1
            else:
                latencies.append(int(fields[2]) / 1000.0)
    latencies.sort()
    # pgbench's client is the only child that ended since client_before (cpu_seconds' own
    # run comes after).
    client_cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - client_before
    cpu_after = cpu_seconds(bin_dir)
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    retried = re.search(r"total number of retries: (\d+)", out)
    failed_line = re.search(r"number of failed transactions: (\d+)", out)
    per_tx = 1e6 / max(len(latencies), 1)
    cpu = [["load generator", client_cpu * per_tx]] + [[n, (cpu_after[n] - cpu_before[n]) * per_tx] for n in cpu_after]
    return {"cpu_us_per_request": cpu, "throughput": tps, "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1], "max_ms": latencies[-1],
            "errors": int(failed_line.group(1)) if failed_line else failed,
            "retries": int(retried.group(1)) if retried else 0}


def seed_redemption_groups(prefix, n, user):
    psql(f"""
INSERT INTO groups (id, name, location, points, owner_id)
SELECT '{prefix}' || lpad(i::text, 5, '0'), 'Bench ' || i, 'Benchville', 1000000000, '{user}'
  FROM generate_series(1, {n}) AS i;
INSERT INTO group_members (group_id, user_id, active, version, can_redeem)
SELECT '{prefix}' || lpad(i::text, 5, '0'), '{user}', true, 1, true FROM generate_series(1, {n}) AS i;
INSERT INTO ledger_entries (id, group_id, user_id, kind, points, amount_cents, store_region, balance_after,
                            idempotency_key, actor_id)
SELECT '001-' || upper(lpad(to_hex(i), 20, '0')) || '{prefix[-1].upper()}SEED0', '{prefix}' || lpad(i::text, 5, '0'),
       '{user}', 'award', 1000000000, 100000000000, '001', 1000000000, 'seed-' || i, '{user}'
  FROM generate_series(1, {n}) AS i;""")


def section_bill(bin_dir, rounds, seconds):
    """Bills of one 12.50 dish by staff into seeded groups, through the router."""
    user, _ = customer("001")
    staff = ok("POST", f"{ROUTER}/v1/sessions", {"email": "staff@001.loyalty.local",
                                                 "password": os.environ.get("LOYALTY_STAFF_PASSWORD", "change-me-staff")})
    item = ok("POST", f"{ROUTER}/v1/regions/001/catalogue",
              {"name": "Bench dish", "category": "mains", "price_cents": 1250, "points_price": 10}, staff["token"])
    lines = []
    for shape, prefix, groups, clients in [("1000 groups, no contention", "001-c", 1000, 20),
                                           ("5 hot groups", "001-k", 5, 20)]:
        log(f"bills: {shape}")
        seed_redemption_groups(prefix, groups, user["id"])
        settle("groups")
        ids = ",".join(f"{prefix}{i:05d}" for i in range(1, groups + 1))
        runs = []
        for r in range(rounds):
            out = run([str(bin_dir / "loyalty-bench"), "bill", "--url", ROUTER, "--token", staff["token"],
                       "--user", user["id"], "--item", item["id"], "--groups", ids,
                       "--concurrency", str(clients), "--seconds", str(seconds), *cpu_args()],
                      stdout=subprocess.PIPE).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            log(f"round {r + 1}: router {runs[-1]['throughput']:.0f}/s")
        med = {k: statistics.median(r[k] for r in runs) for k in ("throughput", "p50_ms", "p99_ms", "max_ms")}
        lines.append(f"Bills of one dish, {shape}, {clients} concurrent clients, {rounds} rounds of {seconds} s "
                     f"(medians; failures and retries summed)\n")
        lines.append("| throughput (tx/s) | p50 (ms) | p99 (ms) | max (ms) | retries | failed |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        lines.append(f"| {med['throughput']:.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} | {med['max_ms']:.2f} | "
                     f"{sum(r['retries'] for r in runs)} | {sum(r['errors'] for r in runs)} |\n")
        names = [n for n, _ in runs[0]["cpu_us_per_request"]]
        cells = [statistics.median(dict(r["cpu_us_per_request"])[n] for r in runs) for n in names]
        lines.append("CPU per bill (µs, medians of the rounds): "
                     + ", ".join(f"{n} {c:.0f}" for n, c in zip(names, cells) if c >= 1) + f", total {sum(cells):.0f}\n")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def section_redeem(bin_dir, rounds, seconds):
    user, token = customer("001")
    logdir = Path(tempfile.mkdtemp(prefix="loyalty-pgbench-"))
    lines = []
    for shape, prefix, groups, clients in [("1000 groups, no contention", "001-b", 1000, 20),
                                           ("5 hot groups", "001-h", 5, 20)]:
        log(f"redemptions: {shape}")
        seed_redemption_groups(prefix, groups, user["id"])
        settle("groups")
        ids = ",".join(f"{prefix}{i:05d}" for i in range(1, groups + 1))
        figures = {"pgbench": [], "router": []}
        for r in range(rounds):
            figures["pgbench"].append(pgbench_round(bin_dir, prefix, groups, user["id"], clients, seconds, logdir))
            out = run([str(bin_dir / "loyalty-bench"), "redeem", "--url", ROUTER, "--token", token, "--groups", ids,
                       "--concurrency", str(clients), "--seconds", str(seconds), *cpu_args()],
                      stdout=subprocess.PIPE).stdout
            figures["router"].append(json.loads(out.strip().splitlines()[-1]))
            log(f"round {r + 1}: pgbench {figures['pgbench'][-1]['throughput']:.0f}/s, "
                f"router {figures['router'][-1]['throughput']:.0f}/s")
        lines.append(f"Redemptions of 1 point, {shape}, {clients} concurrent clients, {rounds} alternating rounds of "
                     f"{seconds} s (medians of the rounds; failures and retries summed)\n")
        lines.append("| target | throughput (tx/s) | p50 (ms) | p99 (ms) | max (ms) | retries | failed |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- |")
        med = {}
        for name, runs in figures.items():
            med[name] = {k: statistics.median(r[k] for r in runs) for k in ("throughput", "p50_ms", "p99_ms", "max_ms")}
            lines.append(f"| {name} | {med[name]['throughput']:.0f} | {med[name]['p50_ms']:.2f} | "
                         f"{med[name]['p99_ms']:.2f} | {med[name]['max_ms']:.2f} | "
                         f"{sum(r['retries'] for r in runs)} | {sum(r['errors'] for r in runs)} |")
        lines.append(f"\n- router / pgbench: throughput {med['router']['throughput'] / med['pgbench']['throughput']:.2f}×, "
                     f"p50 {med['router']['p50_ms'] / med['pgbench']['p50_ms']:.2f}×, "
                     f"p99 {med['router']['p99_ms'] / med['pgbench']['p99_ms']:.2f}×\n")
        names = [n for n, _ in figures["router"][0]["cpu_us_per_request"]]
        lines.append("CPU per transaction (µs of user + system time, each process with its children; the load "
                     "generator is pgbench's client or loyalty-bench; medians of the rounds):\n")
        lines.append(f"| target | {' | '.join(names)} | total |")
        lines.append("| --- |" + " --- |" * (len(names) + 1))
        for name, runs in figures.items():
            cells = [statistics.median(dict(r["cpu_us_per_request"])[n] for r in runs) for n in names]
            lines.append(f"| {name} | {' | '.join(f'{c:.0f}' for c in cells)} | {sum(cells):.0f} |")
        lines.append("")
    shutil.rmtree(logdir, ignore_errors=True)
    text = "\n".join(lines)
    print(text, flush=True)
    return text


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
         "--bin", "loyalty-topology"], cwd=ROOT)
    meta = json.loads(run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                          capture_output=True).stdout)
    bin_dir = Path(meta["target_directory"]) / "release"
    load_layout(bin_dir)
    platform = Platform(Path(args.servers) if args.servers else bin_dir)
    sections = {}
    try:
        platform.up()
        for name in only:
            log(f"benchmark: {name}")
            if name in ("redeem", "bill"):
                sections[name] = globals()[f"section_{name}"](bin_dir, rounds, seconds)
            else:
                sections[name] = globals()[f"section_{name.replace('-', '_')}"](bin_dir, shape)
    finally:
        if not args.keep:
            platform.down()
    if args.no_doc:
        return
    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True).stdout.strip()
    cores = os.cpu_count()
    body = [f"Run of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit {commit}, "
            f"{cores} cores, release build, `python3 infra/local/bench.py --only {','.join(only)}`"
            f"{' --quick' if args.quick else ''} (`make bench`).\n"]
    titles = {"hop": "Router hop", "hop-tls": "Router hop with TLS to the upstream", "catalogue": "Catalogue cache",
              "fanout": "Fan-out",
              "fanout-wan": "Fan-out over wide-area links",
              "growth": "History growth", "redeem": "Redemptions versus pgbench", "bill": "Bills"}
    for name in only:
        body.append(f"### {titles[name]}\n\n{sections[name].strip()}\n")
    doc = ROOT / "docs" / "BENCHMARKS.md"
    text = doc.read_text() if doc.exists() else "<!-- bench:begin -->\n<!-- bench:end -->\n"
    begin, end = text.index("<!-- bench:begin -->"), text.index("<!-- bench:end -->")
    doc.write_text(text[:begin] + "<!-- bench:begin -->\n" + "\n".join(body) + text[end:])
    log(f"figures written to {doc}")


if __name__ == "__main__":
    main()
