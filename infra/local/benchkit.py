"""What `bench.py`'s sections share: the bench deployment's layout (read from the
topology), the platform it brings up (`Platform`: a release build on ports of its own,
nginx, the bare proxy, the extra TLS and wide-area routers), and small helpers (HTTP,
psql, loyalty-bench with CPU per request, a new customer or group).

The layout's values are module globals set by `load_layout`: read them as `kit.NAME`,
after it ran.
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
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
# pages: the web console, started by that section alone.
CONSOLE_PORT = 0


def load_layout(bin_dir):
    """The bench deployment's ports, from the topology."""
    global LAYOUT, REGIONS, ROUTER_PORT, NGINX_PORT, BARE_PORT, PG_001, ROUTER, WAN_ROUTER_PORT, WAN_CONTROL_PORT
    global WAN_ROUTER_ADMIN_PORT, WAN_LINK_BASE, WAN_ROUTER, TLS_API_PORT, TLS_ROUTER_PORT, TLS_ROUTER_ADMIN_PORT
    global TLS_ROUTER, CONSOLE_PORT
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
    CONSOLE_PORT = extra["console"]


def region(rid):
    return next(r for r in LAYOUT["regions"] if r["id"] == rid)


STAFF_PASSWORD = os.environ.get("LOYALTY_STAFF_PASSWORD", "change-me-staff")


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


def settle(table):
    """After a bulk seed: fresh statistics, and the seed's dirty pages written out now. A
    seed of a million rows starts a checkpoint that spreads its writes over minutes and
    ends in fsyncs; left alone, they land in whichever rounds run then."""
    psql(f"VACUUM ANALYZE {table}")
    psql("CHECKPOINT")
