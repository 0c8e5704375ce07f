"""Benchmark (not a test): whole-process grant and revoke against a local moto.

Prints per-grant and per-revoke wall time (median and p90 over many runs), CPU time,
AWS API calls per cold grant, warm grant and revoke (counted by the SDK interceptor's
debug lines), the release binary's size and peak RSS. Usage: scripts/bench [N]
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.join(root, "target/release/aws-jit")
n = int(sys.argv[1]) if len(sys.argv) > 1 else 50

moto = subprocess.Popen([os.path.join(root, ".venv/bin/python"), os.path.join(root, "scripts/start-moto.py")],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
endpoint = moto.stdout.readline().strip()
work = tempfile.mkdtemp(prefix="aws-jit-bench-")
configs = os.path.join(work, "configs")
os.mkdir(configs)
with open(os.path.join(configs, "access_configs.json"), "w") as f:
    json.dump({"bench": {"name": "Bench Access", "description": "benchmark",
                         "account_id": "111122223333", "permission_set": "BenchReadOnly",
                         "session_duration": "PT1H"},
               "bench-eph": {"name": "Bench Ephemeral", "description": "per-grant permission set",
                             "account_id": "111122223333",
                             "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                             "session_duration": "PT1H"}}, f)
with open(os.path.join(configs, "s3_configs.json"), "w") as f:
    json.dump({"bench-s3": {"name": "Bench S3", "description": "benchmark",
                            "buckets": ["bench-bucket"], "policy_template": "S3ReadOnlyPolicy",
                            "session_duration": "PT1H"}}, f)
users = [f"bench{i}@example.com" for i in range(n + 1)]
subprocess.run([os.path.join(root, ".venv/bin/python"), os.path.join(root, "scripts/seed_demo.py"),
                endpoint, configs, *users], check=True, stdout=subprocess.DEVNULL)
env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
           AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
           AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
           AWS_JIT_CONFIG_DIR=configs, AWS_JIT_DB=f"sqlite://{work}/jit.db", AWS_JIT_MAX_ATTEMPTS="1")
env.pop("RUST_LOG", None)


def run(args, extra=None):
    t0 = time.perf_counter()
    out = subprocess.run([binary, *args], env=dict(env, **(extra or {})), capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"aws-jit {args} failed: {out.stderr}")
    return elapsed, out


def calls(out):
    return sum(1 for line in out.stderr.splitlines() if "aws call " in line)


debug = {"RUST_LOG": "aws_jit=debug,warn"}
_, cold = run(["grant", "bench", "--user", users[0]], debug)
_, warm = run(["grant", "bench", "--user", users[1]], debug)
_, rev = run(["revoke", "bench", "--user", users[1]], debug)
run(["revoke", "bench", "--user", users[0]])

before = resource.getrusage(resource.RUSAGE_CHILDREN)
grant_times = [run(["grant", "bench", "--user", u])[0] for u in users[2:]]
mid = resource.getrusage(resource.RUSAGE_CHILDREN)
revoke_times = [run(["revoke", "bench", "--user", u])[0] for u in users[2:]]
after = resource.getrusage(resource.RUSAGE_CHILDREN)


def cpu(a, b, k):
    return (b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime) / k


def rss(args):
    out = subprocess.run(["/usr/bin/time", "-f", "%M", binary, *args], env=env, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024


grant_rss = rss(["grant", "bench", "--user", users[0]])
revoke_rss = rss(["revoke", "bench", "--user", users[0]])

# S3 accesses: a generated policy per grant.
_, s3_grant = run(["grant", "bench-s3", "--user", users[0]], debug)
_, s3_revoke = run(["revoke", "bench-s3", "--user", users[0]], debug)
s3_grant_times = [run(["grant", "bench-s3", "--user", u])[0] for u in users[2:]]
s3_revoke_times = [run(["revoke", "bench-s3", "--user", u])[0] for u in users[2:]]

# Per-grant permission sets.
_, eph_grant = run(["grant", "bench-eph", "--user", users[0]], debug)
_, eph_revoke = run(["revoke", "bench-eph", "--user", users[0]], debug)

# IAM user lookup by `email` tag with 1,000 IAM users whose names are not the email.
import boto3  # noqa: E402  (moto's install brings boto3)
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
for i in range(1000):
    iam.create_user(UserName=f"filler-{i:04d}")
iam.create_user(UserName="svc-tagged", Tags=[{"Key": "email", "Value": "tagged@example.com"}])
t_scan, scan = run(["grant", "bench-s3", "--user", "tagged@example.com"], debug)
t_cached, cached = run(["grant", "bench-s3", "--user", "tagged@example.com"], debug)
moto.stdin.close()
moto.wait()

k = len(grant_times)


def ms(xs, q):
    return statistics.quantiles(xs, n=10)[8] * 1000 if q == 90 else statistics.median(xs) * 1000


print(f"aws-jit bench: {k} grants and {k} revokes, one process each, against moto at {endpoint}")
print(f"grant   wall median {ms(grant_times, 50):6.1f} ms  p90 {ms(grant_times, 90):6.1f} ms  cpu {cpu(before, mid, k) * 1000:5.1f} ms  peak RSS {grant_rss:5.1f} MiB")
print(f"revoke  wall median {ms(revoke_times, 50):6.1f} ms  p90 {ms(revoke_times, 90):6.1f} ms  cpu {cpu(mid, after, k) * 1000:5.1f} ms  peak RSS {revoke_rss:5.1f} MiB")
print(f"AWS calls: cold grant {calls(cold)}, warm grant {calls(warm)}, revoke {calls(rev)}")
for label, out in (("cold grant", cold), ("warm grant", warm), ("revoke", rev)):
    ops = [line.split('operation="')[1].split('"')[0] for line in out.stderr.splitlines() if "aws call " in line]
    print(f"  {label}: {', '.join(ops)}")
print(f"S3 grant  wall median {ms(s3_grant_times, 50):6.1f} ms  p90 {ms(s3_grant_times, 90):6.1f} ms; S3 revoke median {ms(s3_revoke_times, 50):6.1f} ms")
print(f"AWS calls: S3 grant {calls(s3_grant)}, S3 revoke {calls(s3_revoke)}")
for label, out in (("S3 grant", s3_grant), ("S3 revoke", s3_revoke)):
    ops = [line.split('operation="')[1].split('"')[0] for line in out.stderr.splitlines() if "aws call " in line]
    print(f"  {label}: {', '.join(ops)}")
print(f"AWS calls: per-grant permission set grant {calls(eph_grant)}, revoke {calls(eph_revoke)}")
for label, out in (("  grant", eph_grant), ("  revoke", eph_revoke)):
    ops = [line.split('operation="')[1].split('"')[0] for line in out.stderr.splitlines() if "aws call " in line]
    print(f"{label}: {', '.join(ops)}")
print(f"IAM user by email tag among 1,001 users: first lookup {calls(scan)} calls, {t_scan * 1000:.0f} ms; "
      f"next (cached user name) {calls(cached)} calls, {t_cached * 1000:.0f} ms")
print(f"binary size {os.path.getsize(binary) / 1048576:.1f} MiB (release, stripped)")
