-- What a grant changes in AWS, as one typed value (JSON, `core::GrantTarget`). Rows written
-- before it have NULL here and are read from the flat columns, which are still written so
-- that the two always agree.
ALTER TABLE grants ADD COLUMN target TEXT;
