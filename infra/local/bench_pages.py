"""The web console's pages (`bench.py --only pages`): each page's time under the load
test's concurrency (wrk, 20 connections, 8 s, one page at a time), beside two API calls
the pages make, through the router with the same user's token.

A customer of region 001 whose personal pool holds 60 bills is logged in to a console
started beside the bench deployment (this tree's build, whatever `--servers` runs); so is
region 001's staff. The time is the console's answer on loopback: its own work plus the
platform calls it makes (a pool's page: the group, 200 ledger entries and the SVG chart;
/pools: the user's groups across regions and the regions' list; /activity: a fan-out to
every region; the till's review: the customer, the menu and the bill's quote).
"""

import base64
import http.cookiejar
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import benchkit as kit
from benchkit import customer, log, ok, run

CONNECTIONS, SECONDS, BILLS = 20, 8, 60


def ensure_wrk():
    if not shutil.which("wrk"):
        log("wrk missing: installing it with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True)


def start_console(platform, bin_dir):
    """This tree's console on the bench's `console` port, a client of the bench router."""
    secrets = dict(line.split("=", 1) for line in (kit.STATE / "secrets.env").read_text().split())
    env = dict(os.environ, LOYALTY_WEB_LISTEN=f"127.0.0.1:{kit.CONSOLE_PORT}", LOYALTY_WEB_PLATFORM_URL=kit.ROUTER,
               LOYALTY_WEB_ROUTER_METRICS_URL=f"http://127.0.0.1:{kit.LAYOUT['router_admin']}",
               LOYALTY_WEB_SESSION_KEY=base64.b64encode(os.urandom(64)).decode(),
               LOYALTY_WEB_PROXY_TOKEN=secrets["LOYALTY_PROXY_TOKEN"])
    platform.spawn("console", [str(bin_dir / "loyalty-web")], f"{console()}/healthz", env)


def console():
    return f"http://127.0.0.1:{kit.CONSOLE_PORT}"


def log_in(email, password):
    """A console session of `email`: its cookie, as a browser would send it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{console()}/login", timeout=30).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": password}).encode()
    pools = opener.open(f"{console()}/login", data=form, timeout=30)
    if not pools.url.endswith("/pools"):
        raise SystemExit(f"console login of {email} ended at {pools.url}")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def checked(url, header, shows):
    """The page answers 200 to this caller (not a redirect to the login page) and shows
    what it is measured for."""
    name, value = header.split(": ", 1)
    req = urllib.request.Request(url, headers={name: value})
    with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as res:
        body = res.read().decode()
        if res.status != 200 or shows not in body:
            raise SystemExit(f"{url} answered {res.status} without {shows!r}:\n{body[:2000]}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise SystemExit(f"{req.full_url} redirected ({code}) to {newurl}: the session did not hold")


def to_ms(text):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, header, shows):
    """wrk's requests/s, p50/p90/p99 (ms) and non-2xx/3xx count for `url`."""
    checked(url, header, shows)
    out = run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-H", header, url],
              stdout=subprocess.PIPE).stdout
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            *(to_ms(latency[p]) for p in ("50", "90", "99")), int(errors.group(1)) if errors else 0)


def section_pages(bin_dir, platform):
    ensure_wrk()
    start_console(platform, bin_dir)
    user, token = customer("001")
    staff = ok("POST", f"{kit.ROUTER}/v1/sessions", {"email": "staff@001.loyalty.local", "password": kit.STAFF_PASSWORD})
    item = ok("POST", f"{kit.ROUTER}/v1/regions/001/catalogue",
              {"name": "Page dish", "category": "mains", "price_cents": 1250, "points_price": 10}, staff["token"])
    pool = user["personal_group_id"]
    log(f"pages: {BILLS} bills into {pool}, then each page for {SECONDS} s")
    bill = {"user_id": user["id"], "store_region": "001", "items": [{"item_id": item["id"], "qty": 1}]}
    for n in range(BILLS):
        ok("POST", f"{kit.ROUTER}/v1/bills", bill, staff["token"], key=f"page-bill-{n}")
    customer_cookie = "Cookie: " + log_in(user["email"], "bench password 1")
    staff_cookie = "Cookie: " + log_in("staff@001.loyalty.local", kit.STAFF_PASSWORD)
    bearer = f"Authorization: Bearer {token}"
    review = (f"/till/review?user_id={user['id']}&group_id={pool}&qty_{item['id']}=1&attempt=pagebench-review-1")
    targets = [  # (name, url, caller, what the answer shows)
        ("console /pools", f"{console()}/pools", customer_cookie, pool),
        (f"console /groups/{{gid}} (chart of {BILLS} entries)", f"{console()}/groups/{pool}", customer_cookie, "<svg"),
        ("console /activity", f"{console()}/activity", customer_cookie, "bill of 12.50"),
        ("console /till?user_id= (staff)", f"{console()}/till?user_id={user['id']}", staff_cookie, "Page dish"),
        ("console /till/review (staff; the bill's quote)", f"{console()}{review}", staff_cookie, "Earns "),
        ("API GET /v1/users/{uid}/groups, through the router", f"{kit.ROUTER}/v1/users/{user['id']}/groups", bearer,
         pool),
        ("API GET /v1/groups/{gid}/transactions?limit=200, through the router",
         f"{kit.ROUTER}/v1/groups/{pool}/transactions?limit=200", bearer, "award"),
    ]
    lines = [f"Each page or call for {SECONDS} s, {CONNECTIONS} connections (`wrk -t2 -c{CONNECTIONS} --latency`)\n",
             "| page | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | non-2xx |", "| --- | --- | --- | --- | --- | --- |"]
    for name, url, header, shows in targets:
        rate, p50, p90, p99, errors = wrk(url, header, shows)
        log(f"{name}: {rate:.0f}/s, p99 {p99:.2f} ms")
        lines.append(f"| {name} | {rate:.0f} | {p50:.2f} | {p90:.2f} | {p99:.2f} | {errors} |")
    platform.stop("console")
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    return text
