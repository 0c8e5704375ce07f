"""Benchmark (not a test): revocation lateness when N grants expire within the same second.

Seeds N Identity Store users in a local moto, grants each one the same access with a
duration chosen so that every grant expires within one common second, runs `aws-jit serve`,
and reports how late each revocation came (ended_at - expires_at, from the store, in ms),
plus the server's peak RSS. Usage: scripts/bench-expiry [N]
"""
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.join(root, "target/release/aws-jit")
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000

moto = subprocess.Popen([os.path.join(root, ".venv/bin/python"), os.path.join(root, "scripts/start-moto.py")],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
endpoint = moto.stdout.readline().strip()
work = tempfile.mkdtemp(prefix="aws-jit-bench-expiry-")
configs = os.path.join(work, "configs")
os.mkdir(configs)
with open(os.path.join(configs, "access_configs.json"), "w") as f:
    json.dump({"bench": {"name": "Bench Access", "account_id": "111122223333",
                         "permission_set": "BenchReadOnly", "session_duration": "PT2H"}}, f)
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
sso = boto3.client("sso-admin", **kw)
ids = boto3.client("identitystore", **kw)
instance = sso.list_instances()["Instances"][0]
sso.create_permission_set(Name="BenchReadOnly", InstanceArn=instance["InstanceArn"], SessionDuration="PT1H")
users = [f"expiry{i}@example.com" for i in range(n)]
for email in users:
    ids.create_user(IdentityStoreId=instance["IdentityStoreId"], UserName=email, DisplayName=email,
                    Name={"GivenName": "B", "FamilyName": "B"}, Emails=[{"Value": email, "Primary": True}])
db = os.path.join(work, "jit.db")
env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
           AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
           AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
           AWS_JIT_CONFIG_DIR=configs, AWS_JIT_DB=f"sqlite://{db}", AWS_JIT_MAX_ATTEMPTS="1",
           # The tool's own speed against moto, not AWS's 20 calls/s (which the default
           # limiter enforces: against AWS, 1,000 simultaneous expiries take ~50 s).
           AWS_JIT_SSO_CALLS_PER_SECOND="0")
env.pop("RUST_LOG", None)
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
