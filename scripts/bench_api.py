"""Benchmark (not a test): grants per second through the HTTP API, and the server's memory
with many active grants.

Seeds N Identity Store users in a local moto, starts `aws-jit serve` (release build) with an
admin token, requests one grant per user through `POST /api/v1/grants` from C concurrent
keep-alive clients, then reports throughput, request latency, and the server's RSS with all
N grants active, plus how long listing and /metrics take at that size.
Usage: scripts/bench-api [N] [C]
"""
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time

import bench_lab

binary = bench_lab.BINARY
n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8

t_seed = time.perf_counter()
lab = bench_lab.start("api", n, "PT8H")
print(f"seeded {n} users in {time.perf_counter() - t_seed:.0f} s", file=sys.stderr)
endpoint, db, env, users, moto = lab.endpoint, lab.db, lab.env, lab.users, lab.moto
token = subprocess.run([binary, "token", "create", "--name", "bench", "--role", "admin"],
                       env=env, check=True, capture_output=True, text=True).stdout.strip()
server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
host, port = server.stdout.readline().strip().removeprefix("listening on http://").split(":")
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def rss_mib(field):
    with open(f"/proc/{server.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024


latencies = []
failures = []
lock = threading.Lock()
queue = list(reversed(users))


def worker():
    conn = http.client.HTTPConnection(host, int(port))
    while True:
        with lock:
            if not queue:
                return
            email = queue.pop()
        body = json.dumps({"access": "bench", "user": email, "duration": "8h"})
        t = time.perf_counter()
        conn.request("POST", "/api/v1/grants", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
        took = time.perf_counter() - t
        with lock:
            if response.status == 201:
                latencies.append(took)
            else:
                failures.append((response.status, text[:200]))


rss_idle = rss_mib("VmRSS")
t0 = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - t0
rss_now, rss_peak = rss_mib("VmRSS"), rss_mib("VmHWM")


def timed_get(path):
    conn = http.client.HTTPConnection(host, int(port))
    t = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    return (time.perf_counter() - t) * 1000, response.status


list_ms, _ = timed_get("/api/v1/grants?limit=500")
metrics_ms, _ = timed_get("/metrics")
time.sleep(2)  # a few worker wake-ups with everything active
rss_after = rss_mib("VmRSS")
server.terminate()
server.wait()
moto.stdin.close()
moto.wait()
lat = sorted(latencies)
q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
print(f"aws-jit API bench: {len(lat)} of {n} grants created through POST /api/v1/grants "
      f"by {clients} keep-alive clients, {len(failures)} failed")
if failures:
    print(f"first failure: {failures[0]}")
print(f"throughput: {len(lat) / elapsed:.0f} grants/s ({elapsed:.1f} s); "
      f"latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")
print(f"server RSS: {rss_idle:.1f} MiB idle; {rss_now:.1f} MiB with {len(lat)} active grants "
      f"({rss_after:.1f} MiB 2 s later); peak {rss_peak:.1f} MiB")
print(f"with {len(lat)} active: GET /api/v1/grants?limit=500 {list_ms:.0f} ms, GET /metrics {metrics_ms:.0f} ms")
