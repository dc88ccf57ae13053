"""Bills and redemptions through the router (`bench.py --only redeem,bill`), the
redemptions beside pgbench running the same SQL on the same database."""

import json
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import benchkit as kit
from benchkit import log, run, ok, psql, cpu_args, cpu_seconds, customer, settle


def pgbench_round(bin_dir, prefix, groups, caller, clients, seconds, logdir):
    for f in logdir.glob("pgbench_log*"):
        f.unlink()
    cpu_before = cpu_seconds(bin_dir)
    client_before = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    out = run(["pgbench", "-h", "127.0.0.1", "-p", str(kit.PG_001), "-U", "postgres", "-n", "-M", "prepared",
               "-c", str(clients), "-j", "2", "-T", str(seconds), "--max-tries=10", "-l",
               "--log-prefix", str(logdir / "pgbench_log"), "-f", str(kit.ROOT / "bench/sql/redeem.sql"),
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


# Both sections' shapes: (name, groups, concurrent clients).
SHAPES = [("1000 groups, no contention", 1000, 20), ("5 hot groups", 5, 20)]


def seeded(what, prefixes, user):
    """Each shape's groups (ids from its prefix), seeded with points and settled:
    (shape, prefix, groups, clients, the ids comma-separated)."""
    for (shape, groups, clients), prefix in zip(SHAPES, prefixes):
        log(f"{what}: {shape}")
        seed_redemption_groups(prefix, groups, user["id"])
        settle("groups")
        yield shape, prefix, groups, clients, ",".join(f"{prefix}{i:05d}" for i in range(1, groups + 1))


def section_bill(bin_dir, rounds, seconds):
    """Bills of one 12.50 dish by staff into seeded groups, through the router."""
    user, _ = customer("001")
    staff = ok("POST", f"{kit.ROUTER}/v1/sessions",
               {"email": "staff@001.loyalty.local", "password": kit.STAFF_PASSWORD})
    item = ok("POST", f"{kit.ROUTER}/v1/regions/001/catalogue",
              {"name": "Bench dish", "category": "mains", "price_cents": 1250, "points_price": 10}, staff["token"])
    lines = []
    for shape, _, _, clients, ids in seeded("bills", ("001-c", "001-k"), user):
        runs = []
        for r in range(rounds):
            out = run([str(bin_dir / "loyalty-bench"), "bill", "--url", kit.ROUTER, "--token", staff["token"],
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
    for shape, prefix, groups, clients, ids in seeded("redemptions", ("001-b", "001-h"), user):
        figures = {"pgbench": [], "router": []}
        for r in range(rounds):
            figures["pgbench"].append(pgbench_round(bin_dir, prefix, groups, user["id"], clients, seconds, logdir))
            out = run([str(bin_dir / "loyalty-bench"), "redeem", "--url", kit.ROUTER, "--token", token, "--groups", ids,
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
