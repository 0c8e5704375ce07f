"""Benchmark (not a test): revocations on time while the HTTP side is under attack.

Seeds N users in a local moto and grants each one access expiring within one common
second; starts `aws-jit serve` (release build) under a file-descriptor limit; then, while
the grants expire, holds H half-sent requests open (re-opening them as the server drops
them) and floods the API from C clients. Reports how late each revocation came, what the
flood got, and whether every grant was removed within 2 s of its expiry.
Everything targets 127.0.0.1 and stops by itself.
Usage: scripts/bench-slow-clients [N] [H] [C] [FD_LIMIT]
"""
import http.client
import math
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bench_lab

binary = bench_lab.BINARY
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
half_open = int(sys.argv[2]) if len(sys.argv) > 2 else 400
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 16
fd_limit = int(sys.argv[4]) if len(sys.argv) > 4 else 512

lab = bench_lab.start("slow", n, "PT2H")
env = lab.env
token = subprocess.run([binary, "token", "create", "--name", "bench", "--role", "admin"],
                       env=env, check=True, capture_output=True, text=True).stdout.strip()
start = time.time()
deadline = math.ceil(start + 15 + n * 0.05 / 4)


def grant(email):
    seconds = max(1, math.floor(deadline - time.time()))
    out = subprocess.run([binary, "grant", "bench", "--user", email, "--duration", f"{seconds}s"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"grant failed: {out.stderr}")


with ThreadPoolExecutor(max_workers=4) as pool:
    list(pool.map(grant, lab.users))
if time.time() >= deadline - 5:
    raise SystemExit("granting took longer than planned: lower N")

server = subprocess.Popen(["sh", "-c", f'ulimit -n {fd_limit} && exec "$0" serve --listen 127.0.0.1:0', binary],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
host, port = server.stdout.readline().strip().removeprefix("listening on http://").split(":")
port = int(port)
stop = threading.Event()
stats = {"held": 0, "reopened": 0, "ok": 0, "busy": 0, "other": 0, "errors": 0}
lock = threading.Lock()


def count(key):
    with lock:
        stats[key] += 1


def slowloris():
    conns = []
    while not stop.is_set():
        while len(conns) < half_open and not stop.is_set():
            try:
                s = socket.create_connection((host, port), timeout=0.2)
                s.sendall(b"POST /api/v1/grants HTTP/1.1\r\nHost: x\r\nContent-Le")
                conns.append(s)
                count("reopened")
            except OSError:
                break
        alive = []
        for s in conns:
            try:
                s.settimeout(0)
                if s.recv(1, socket.MSG_PEEK) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            alive.append(s)
        conns = alive
        with lock:
            stats["held"] = max(stats["held"], len(conns))
        time.sleep(0.2)
    for s in conns:
        s.close()


def flood():
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection(host, port, timeout=10)
            c.request("GET", "/api/v1/grants?limit=50", headers=headers)
            status = c.getresponse().status
            c.close()
            count("ok" if status == 200 else "busy" if status == 503 else "other")
        except OSError:
            count("errors")
            time.sleep(0.05)


threads = [threading.Thread(target=slowloris)] + [threading.Thread(target=flood) for _ in range(clients)]
for t in threads:
    t.start()
con = sqlite3.connect(lab.db)
while True:
    left = con.execute("SELECT COUNT(*) FROM grants WHERE status NOT IN ('expired','revoked','failed')").fetchone()[0]
    if left == 0 or time.time() > deadline + 60:
        break
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()
server.terminate()
server.wait()
rows = con.execute("SELECT ended_at - expires_at FROM grants WHERE status = 'expired'").fetchall()
lab.stop()
late = sorted(r[0] for r in rows)
q = statistics.quantiles(late, n=100) if len(late) > 1 else [late[0]] * 99
within = sum(1 for ms in late if ms <= 2000)
print(f"aws-jit slow-client bench: {len(rows)} of {n} grants expired under attack "
      f"(serve with ulimit -n {fd_limit}; {half_open} half-sent requests wanted, at most {stats['held']} held, "
      f"{stats['reopened']} opened in all; {clients} flooding clients)")
print(f"revocation lateness: p50 {q[49]:.0f} ms, p99 {q[98]:.0f} ms, max {late[-1]} ms; "
      f"{within} of {n} removed within 2 s of expiry")
print(f"flood: {stats['ok']} answered 200, {stats['busy']} turned away with 503, "
      f"{stats['other']} other statuses, {stats['errors']} connection errors")
