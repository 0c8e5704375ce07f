"""Seeds a demo organisation into a moto server for `scripts/demo` and the benchmark.

Creates Identity Store users and the permission sets that the configs in the given
directory name (each with an explicit SessionDuration, which moto needs). Prints the
emails it created. Uses boto3, which moto's own install brings.
"""
import json
import os
import sys

import boto3


def main() -> None:
    endpoint = sys.argv[1]
    config_dir = sys.argv[2]
    users = sys.argv[3:] or ["alice@example.com", "bob@example.com"]
    kw = dict(endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION", "us-east-1"),
              aws_access_key_id="testing", aws_secret_access_key="testing")
    sso = boto3.client("sso-admin", **kw)
    ids = boto3.client("identitystore", **kw)
    instance = sso.list_instances()["Instances"][0]
    store_id = instance["IdentityStoreId"]
    for email in users:
        local = email.split("@")[0]
        ids.create_user(IdentityStoreId=store_id, UserName=email, DisplayName=local.title(),
                        Name={"GivenName": local.title(), "FamilyName": "Demo"},
                        Emails=[{"Value": email, "Type": "work", "Primary": True}])
    iam = boto3.client("iam", **kw)
    s3 = boto3.client("s3", **kw)
    for email in users:
        iam.create_user(UserName=email, Tags=[{"Key": "email", "Value": email}])
    s3_path = os.path.join(config_dir, "s3_configs.json")
    if os.path.exists(s3_path):
        with open(s3_path) as f:
            for entry in json.load(f).values():
                for bucket in entry["buckets"]:
                    s3.create_bucket(Bucket=bucket)
    path = os.path.join(config_dir, "access_configs.json")
    names = set()
    if os.path.exists(path):
        with open(path) as f:
            names = {entry["permission_set"] for entry in json.load(f).values() if "permission_set" in entry}
    for name in sorted(names):
        sso.create_permission_set(Name=name, InstanceArn=instance["InstanceArn"],
                                  SessionDuration="PT1H", Description="demo")
    print(" ".join(users))


if __name__ == "__main__":
    main()
