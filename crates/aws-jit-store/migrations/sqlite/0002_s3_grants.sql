-- S3 accesses: the IAM user and the policy a grant attached (and whether it generated it).
ALTER TABLE grants ADD COLUMN iam_user TEXT;
ALTER TABLE grants ADD COLUMN policy_arn TEXT;
ALTER TABLE grants ADD COLUMN policy_generated INTEGER NOT NULL DEFAULT 0;
