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
    // A command that fails keeps its exit code, whether or not anyone reads its output.
    let mut child = tool
        .command(&["policy", "check", "--as", &f.email, "break-glass", "jit"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(4));
}

/// 404 and 405 answer the documented JSON error; `/readyz` fails while the configs do
/// not load (the API could not grant), though the worker runs and `/healthz` is fine.
#[tokio::test]
async fn unknown_routes_and_methods_answer_json_and_readyz_tells_a_broken_config() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let server = super::serve::start(&tool);
    let (status, body) = super::serve::call(&server.addr, "GET", "/api/v1/nope", None, None);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "no_route", "{body}");
    let (status, body) = super::serve::call(&server.addr, "DELETE", "/api/v1/grants", None, None);
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    let (status, _) = super::serve::call(&server.addr, "GET", "/readyz", None, None);
    assert_eq!(status, 200);
    drop(server);

    std::fs::write(tool.config_dir.join("access_configs.json"), "{\"jit\": {}}").unwrap();
    let server = super::serve::start(&tool);
    let (status, body) = super::serve::call(&server.addr, "GET", "/readyz", None, None);
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("do not load"),
        "{body}"
    );
    let (status, _) = super::serve::call(&server.addr, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
}

/// At the default log level `serve` says when it starts, each grant, expiry and
/// revocation, and its shutdown.
#[tokio::test]
async fn serve_logs_each_grant_expiry_and_its_start_and_stop_at_the_default_level() {
    use std::io::{BufRead, BufReader};
    let f = Fixture::new().await;
    let tool = f.tool("2s");
    let log = tool.dir.path().join("serve.log");
    let mut child = tool
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    tool.ok(&["grant", "jit", "--user", &f.email]);
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("grant.expired")
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    for expected in [
        "serving",
        "grant.expired",
        "grant.revoke_started",
        "shutting down",
        "stopped",
    ] {
        assert!(text.contains(expected), "no `{expected}` in:\n{text}");
    }
    assert_eq!(f.assignments().await, 0);
}

/// AWS errors are one line that says what failed and how to fix it, not the SDK's dump.
#[test]
fn aws_errors_are_one_line_that_says_how_to_fix_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("AWS_REGION", "us-east-1")],
            "no AWS credentials could be loaded (",
        ),
        (
            &[("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")],
            "no AWS region is set: set AWS_REGION",
        ),
        (
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "x"),
                ("AWS_SECRET_ACCESS_KEY", "y"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ],
            "cannot reach AWS at http://127.0.0.1:9 (Connection refused",
        ),
    ];
    for (env, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
            .args(["grant", "DB Access to Staging", "--user", "a@example.com"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_JIT_CONFIG_DIR", SEED_DIR)
            .env(
                "AWS_JIT_DB",
                format!("sqlite://{}", dir.path().join("jit.db").display()),
            )
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        // One error line, after a note per retry ("attempt 2 of 4"), and nothing else.
        let (last, notes) = err
            .trim_end()
            .lines()
            .collect::<Vec<_>>()
            .split_last()
            .map(|(l, n)| (*l, n.to_vec()))
            .unwrap();
        assert!(
            last.starts_with("error: ") && last.contains(expected),
            "{err}"
        );
        assert!(
            !last.contains("DispatchFailure") && last.len() < 300,
            "{err}"
        );
        for note in notes {
            assert!(
                note.contains("AWS not answering") && note.contains(" of "),
                "{err}"
            );
        }
    }
}

/// `-o`, `grants --access/--status`, a bounded `audit` by default, and one JSON shape for a
/// revoke on the CLI and the API.
#[tokio::test]
async fn listings_take_short_output_flags_filters_and_a_default_limit() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let granted: Value =
        serde_json::from_str(&tool.ok(&["grant", "jit", "--user", &f.email, "-o", "json"]))
            .unwrap();
    let id = granted["id"].as_str().unwrap();
    assert!(tool.ok(&["grants", "-o", "table"]).contains(id));
    assert!(tool.ok(&["grants", "-o", "human"]).contains(id));
    let by_name = tool.json(&["grants", "--access", "JIT Test Access"]);
    assert_eq!(by_name.as_array().unwrap().len(), 1);
    assert!(
        tool.json(&["grants", "--access", "other"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tool.json(&["grants", "--status", "active"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (code, err) = tool.fails(&["grants", "--status", "actve"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("status `actve` is not a grant status"),
        "{err}"
    );

    let revoked = tool.json(&["revoke", "--grant", id]);
    assert_eq!(
        revoked["id"], id,
        "the grant's view, as the API answers: {revoked}"
    );
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        tool.json(&["grants", "--status", "revoked"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (code, err) = tool.fails(&["audit", "--limit", "0"]);
    assert_eq!(code, 2, "{err}");
    let first = tool
        .command(&["audit", "--limit", "2", "-o", "json"])
        .output()
        .unwrap();
    let events: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("--after"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let all = tool.json(&["audit", "--all"]).as_array().unwrap().len();
    assert!(all > 2, "{all}");
}

#[test]
fn version_names_the_commit_its_date_and_the_target() {
    let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
        .arg("--version")
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("aws-jit "), "{line}");
    assert!(
        line.contains("(commit ") && line.contains("-linux-"),
        "{line}"
    );
}

/// "Did you mean" for a mistyped access or field, and a `"$schema"` key editors can use.
#[tokio::test]
async fn mistypes_get_a_suggestion_and_a_schema_key_is_allowed() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let (code, err) = tool.fails(&["grant", "jit_tset_access", "--user", &f.email]);
    assert_eq!(code, 3);
    assert!(err.contains("did you mean `jit_test_access`?"), "{err}");
    let path = tool.config_dir.join("access_configs.json");
    let mut config: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["jit"]["sesion_duration"] = Value::from("PT1H");
    std::fs::write(&path, Value::Object(config.clone()).to_string()).unwrap();
    let (_, err) = tool.fails(&["validate", "--offline"]);
    assert!(err.contains("did you mean `session_duration`?"), "{err}");
    config["jit"]
        .as_object_mut()
        .unwrap()
        .remove("sesion_duration");
    let mut with_schema = serde_json::Map::new();
    with_schema.insert(
        "$schema".to_owned(),
        Value::from("https://aws-jit.dev/schema/access_configs.schema.json"),
    );
    with_schema.extend(config);
    std::fs::write(&path, Value::Object(with_schema).to_string()).unwrap();
    let valid = tool.json(&["validate", "--offline"]);
    assert_eq!(valid["accesses"], 1, "{valid}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains("aws-jit") && script.contains("grant"),
            "{shell}"
        );
    }
}

/// `validate` asks AWS every time it is not `--offline`: a permission set deleted since
/// the last run is reported, and an unreachable AWS is an error, not "valid".
#[tokio::test]
async fn validate_checks_aws_now_not_a_cache() {
    let f = Fixture::new().await;
    let mut tool = f.tool("1h");
    let valid = tool.json(&["validate"]);
    assert_eq!(valid["checks"][0]["access"], "jit", "{valid}");
    assert!(
        valid["checks"][0]["checked"]
            .as_str()
            .unwrap()
            .contains(&f.permission_set_arn),
        "{valid}"
    );
    f.aws
        .sso
        .delete_permission_set()
        .instance_arn(&f.aws.instance_arn)
        .permission_set_arn(&f.permission_set_arn)
        .send()
        .await
        .unwrap();
    let (code, err) = tool.fails(&["validate"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("does not exist in IAM Identity Center"),
        "{err}"
    );
    tool.endpoint = "http://127.0.0.1:9".to_owned();
    let (code, err) = tool.fails(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach AWS"), "{err}");
}

/// The OpenAPI document is served and describes every route the API has.
#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let server = super::serve::start(&tool);
    let (status, doc) = super::serve::call(&server.addr, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 11, "{:?}", paths.keys().collect::<Vec<_>>());
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            let concrete = format!("/api/v1{}", path.replace("{id}", "no-such-grant"));
            let (status, body) = super::serve::call(
                &server.addr,
                &method.to_uppercase(),
                &concrete,
                None,
                Some("{}"),
            );
            assert!(
                status != 405 && body["error"]["code"] != "no_route",
                "{method} {path} is described but not routed: {status} {body}"
            );
        }
    }
}

/// schemathesis (a real OpenAPI client, pinned in scripts/schemathesis-requirements.txt)
/// against a live server with a token: no server errors, and every answer matches the
/// document.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    // A person's token, and a grant to list: the success bodies get checked too (the
    // document gives `jit` as the example access, so grants are made and then revoked,
    // extended and decided on through its links).
    let person = super::serve::token(
        &tool,
        &["--name", "alice", "--role", "requester", "--user", &f.email],
    );
    tool.ok(&["grant", "jit", "--user", &f.email]);
    let server = super::serve::start(&tool);
    let binary = std::env::var("AWS_JIT_SCHEMATHESIS").unwrap_or_else(|_| {
        aws_jit_testkit::workspace_root()
            .join(".venv/bin/schemathesis")
            .display()
            .to_string()
    });
    assert!(
        Path::new(&binary).exists(),
        "no schemathesis at {binary}: run scripts/setup-moto"
    );
    let report = tool.dir.path().join("schemathesis");
    let out = Command::new(&binary)
        .args([
            "run",
            &format!("http://{}/api/v1/openapi.json", server.addr),
            "--header",
            &format!("Authorization: Bearer {person}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,use_after_free",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--report-dir",
            report.to_str().unwrap(),
        ])
        .env("NO_COLOR", "1")
        .env("HOME", tool.dir.path())
        // Its cache directory lands in the working directory: the test's own.
        .current_dir(tool.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `plan -o json` names the permission set, not only its ARN, and says what and when.
#[tokio::test]
async fn plan_json_is_structured_and_names_the_permission_set() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let plan = tool.json(&["plan", "jit", "--user", &f.email]);
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes[0]["kind"], "create_account_assignment", "{plan}");
    assert_eq!(
        changes[0]["resources"]["permission_set"],
        f.permission_set.as_str()
    );
    assert_eq!(
        changes[0]["resources"]["permission_set_arn"],
        f.permission_set_arn.as_str()
    );
    assert_eq!(changes[1]["kind"], "delete_account_assignment");
    assert_ne!(changes[1]["when"], "now");
    assert!(
        tool.ok(&["plan", "jit", "--user", &f.email])
            .contains(&format!("permission set `{}`", f.permission_set))
    );
    assert_eq!(f.assignments().await, 0);
}

/// `grant -o json` answers the API's shape, `capped_from` included.
#[tokio::test]
async fn a_capped_grant_says_so_in_json_as_the_api_does() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let granted = tool.json(&["grant", "jit", "--user", &f.email, "--duration", "2h"]);
    assert_eq!(granted["capped_from"], "PT2H", "{granted}");
    assert_eq!(granted["status"], "active");
}
