//! A throw-away schema in the test PostgreSQL.

use crate::moto::unique;

/// The environment variable naming the PostgreSQL server the tests may use
/// (`postgres://postgres@127.0.0.1:5432/test` on these machines; `scripts/test` sets it).
pub const TEST_PG_VAR: &str = "AWS_JIT_TEST_PG";

/// A fresh schema in the test PostgreSQL, dropped (with everything in it) when this is.
#[derive(Debug)]
pub struct PgSchema {
    /// A store URL whose connections use only this schema.
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgSchema {
    /// Creates a schema, or `None` when `AWS_JIT_TEST_PG` is not set (the caller skips, and
    /// says so: `scripts/test` always sets it).
    pub async fn create() -> Option<PgSchema> {
        let admin_url = std::env::var(TEST_PG_VAR).ok().filter(|v| !v.is_empty())?;
        let name = unique("aws_jit_test_").replace('-', "_");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("AWS_JIT_TEST_PG names a reachable PostgreSQL");
        // Unique across concurrently running test binaries too.
        let name = format!("{name}_{}", std::process::id());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        Some(PgSchema {
            url: format!("{admin_url}{separator}options=-csearch_path%3D{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop runs inside a test's runtime: use a runtime of its own on another thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}
