//! The first hour of a new user (issue 18): shell conventions and honest answers.

use super::*;

/// `aws-jit audit | head` and friends: a reader that goes away is no error.
#[tokio::test]
async fn a_closed_pipe_ends_every_listing_quietly_with_exit_zero() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    tool.ok(&["grant", "jit", "--user", &f.email]);
    for args in [
        &["audit"][..],
        &["audit", "--output", "json"],
        &["grants", "--all"],
        &["schema"],
        &["schema", "policies"],
        &["accesses"],
        &["token", "list"],
        &["iam-policy"],
        &["settings"],
    ] {
        let mut child = tool
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}
