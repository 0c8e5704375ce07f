"""The lab the benchmark scripts share: a local moto with one Identity Center access
(`bench`), N seeded users, and the environment that points a release `aws-jit` at them
with a fresh SQLite store."""
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target/release/aws-jit")


@dataclass
class Lab:
    moto: subprocess.Popen
    endpoint: str
    db: str
    env: dict
    users: list

    def stop(self):
        self.moto.stdin.close()
        self.moto.wait()


def start(prefix: str, n_users: int, session_duration: str) -> Lab:
    moto = subprocess.Popen([os.path.join(ROOT, ".venv/bin/python"), os.path.join(ROOT, "scripts/start-moto.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    endpoint = moto.stdout.readline().strip()
    work = tempfile.mkdtemp(prefix=f"aws-jit-bench-{prefix}-")
    configs = os.path.join(work, "configs")
    os.mkdir(configs)
    with open(os.path.join(configs, "access_configs.json"), "w") as f:
        json.dump({"bench": {"name": "Bench Access", "account_id": "111122223333",
                             "permission_set": "BenchReadOnly", "session_duration": session_duration}}, f)
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    sso = boto3.client("sso-admin", **kw)
    ids = boto3.client("identitystore", **kw)
    instance = sso.list_instances()["Instances"][0]
    sso.create_permission_set(Name="BenchReadOnly", InstanceArn=instance["InstanceArn"], SessionDuration="PT1H")
    users = [f"{prefix}{i}@example.com" for i in range(n_users)]
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
    return Lab(moto=moto, endpoint=endpoint, db=db, env=env, users=users)
