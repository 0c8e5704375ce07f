"""Benchmark (not a test): revocation lateness when N grants expire within the same second.

Seeds N Identity Store users in a local moto, grants each one the same access with a
duration chosen so that every grant expires within one common second, runs `aws-jit serve`,
and reports how late each revocation came (ended_at - expires_at, from the store, in ms),
plus the server's peak RSS. Usage: scripts/bench-expiry [N]
"""
import math
import sqlite3
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import bench_lab

binary = bench_lab.BINARY
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000

lab = bench_lab.start("expiry", n, "PT2H")
endpoint, db, env, users, moto = lab.endpoint, lab.db, lab.env, lab.users, lab.moto
subprocess.run([binary, "validate"], env=env, check=True, capture_output=True)

# Everyone expires in the same second: creation time is spread, so each grant's duration is
# the whole seconds left until that second.
start = time.time()
per_grant_estimate = 0.05
deadline = math.ceil(start + 20 + n * per_grant_estimate / 4)


def grant(email):
    seconds = max(1, math.floor(deadline - time.time()))
    out = subprocess.run([binary, "grant", "bench", "--user", email, "--duration", f"{seconds}s"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"grant failed: {out.stderr}")


t0 = time.perf_counter()
with ThreadPoolExecutor(max_workers=4) as pool:
    list(pool.map(grant, users))
grant_secs = time.perf_counter() - t0
if time.time() >= deadline:
    raise SystemExit("granting took longer than planned: lower N")

server = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
server.stdout.readline()
con = sqlite3.connect(db)
while True:
    left = con.execute("SELECT COUNT(*) FROM grants WHERE status NOT IN ('expired','revoked','failed')").fetchone()[0]
    if left == 0 or time.time() > deadline + 120:
        break
    time.sleep(0.2)
with open(f"/proc/{server.pid}/status") as f:
    peak_rss = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
server.terminate()
server.wait()
rows = con.execute("SELECT ended_at - expires_at, expires_at FROM grants WHERE status = 'expired'").fetchall()
moto.stdin.close()
moto.wait()
late = sorted(r[0] for r in rows)
spread = (max(r[1] for r in rows) - min(r[1] for r in rows)) / 1000
q = statistics.quantiles(late, n=100)
print(f"aws-jit expiry bench: {len(rows)} of {n} grants expired (expiry instants spread over {spread:.2f} s)")
print(f"revocation lateness: p50 {q[49]:.0f} ms, p99 {q[98]:.0f} ms, max {late[-1]} ms")
print(f"granting {n} grants via the CLI (4 at a time): {grant_secs:.1f} s, {n / grant_secs:.0f} grants/s")
print(f"server peak RSS: {peak_rss:.1f} MiB")
