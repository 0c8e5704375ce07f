-- Identity Center accesses with a permission set created for each grant.
ALTER TABLE grants ADD COLUMN permission_set_generated INTEGER NOT NULL DEFAULT 0;
