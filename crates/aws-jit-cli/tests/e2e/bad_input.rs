//! Bad configs and requests: refused with the expected one-line errors, before AWS, changing nothing.

use super::*;

/// The bad-input corpus (`tests/fixtures/bad-input/configs`): each hostile or malformed
/// config is refused by `validate` with exit code 3 and the error its `.expect` file names;
/// huge and deeply nested files are generated here.
#[test]
fn the_bad_config_corpus_is_refused_with_the_expected_errors() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad-input/configs");
    let mut cases: Vec<(String, Vec<u8>, String)> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    for path in names {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let expect = std::fs::read_to_string(path.with_extension("expect")).unwrap();
        cases.push((
            name,
            std::fs::read(&path).unwrap(),
            expect.trim().to_owned(),
        ));
    }
    assert!(cases.len() >= 10, "the corpus went missing");
    let entry = |description: &str| {
        format!(
            r#"{{"A": {{"name": "A", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H", "description": "{description}"}}}}"#
        )
    };
    cases.push((
        "sso-huge-description".to_owned(),
        entry(&"x".repeat(10_000_000)).into_bytes(),
        "field `description`: 10000000 characters, over the limit of 1000".to_owned(),
    ));
    cases.push((
        "sso-long-name".to_owned(),
        entry("d")
            .replace(
                r#""name": "A""#,
                &format!(r#""name": "{}""#, "n".repeat(129)),
            )
            .into_bytes(),
        "field `name`: 129 characters, over the limit of 128".to_owned(),
    ));
    cases.push((
        "sso-deep-nesting".to_owned(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        "the file must be a JSON object".to_owned(),
    ));
    for (name, bytes, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = if name.starts_with("s3-") {
            "s3_configs.json"
        } else {
            "access_configs.json"
        };
        std::fs::write(dir.path().join(file), &bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
            .env_clear()
            .args(["validate", "--offline", "--config-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains(&expect),
            "{name}: expected `{expect}` in: {err}"
        );
        assert!(
            err.len() < 4_000,
            "{name}: the error echoes the input back: {} bytes",
            err.len()
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_aws_and_changes_nothing() {
    let f = Fixture::new().await;
    let tool = f.tool("PT1H");
    for duration in ["0s", "PT", "1y", "-5m", "soon"] {
        let (code, err) = tool.fails(&["grant", "jit", "--user", &f.email, "--duration", duration]);
        assert_eq!(code, 3, "{duration}: {err}");
        assert!(err.starts_with("error: --duration: "), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let (code, err) = tool.fails(&["grant", "nope", "--user", &f.email]);
    assert_eq!(code, 3);
    assert!(err.contains("no access is called `nope`"), "{err}");
    let (code, err) = tool.fails(&["grant", "jit", "--user", "ghost@example.com"]);
    assert_eq!(code, 3);
    assert!(err.contains("`ghost@example.com`"), "{err}");
    let (code, err) = tool.fails(&["grant", "jit", "--user", "not-an-email"]);
    assert_eq!(code, 3, "{err}");
    let (code, err) = tool.fails(&["grant", "jit"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("KUBIYA_USER_EMAIL"), "{err}");

    // Nothing was recorded and nothing exists in AWS.
    assert!(
        tool.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(tool.json(&["audit"]).as_array().unwrap().is_empty());
    assert_eq!(f.assignments().await, 0);

    // Broken configs: every problem named with file, entry and field (and line:column).
    std::fs::write(
        tool.config_dir.join("access_configs.json"),
        "{\n  \"a\": {,\n}",
    )
    .unwrap();
    let (code, err) = tool.fails(&["validate", "--offline"]);
    assert_eq!(code, 3);
    assert!(err.contains("access_configs.json:2:"), "{err}");
    let masked = serde_json::json!({"DB Access to Staging": {
        "name": "Database Access to Staging", "account_id": "***1775",
        "permission_set": "ECRReadOnly", "session_duration": "PT1H"}});
    std::fs::write(
        tool.config_dir.join("access_configs.json"),
        masked.to_string(),
    )
    .unwrap();
    let (code, err) = tool.fails(&["grant", "DB Access to Staging", "--user", &f.email]);
    assert_eq!(code, 3);
    assert!(
        err.contains("entry `DB Access to Staging`: field `account_id`: `***1775` looks masked"),
        "{err}"
    );
}

#[tokio::test]
async fn validate_checks_that_permission_sets_exist_unless_offline() {
    let f = Fixture::new().await;
    let tool = Tool::with_access(&f.aws, &f.account, "NoSuchSet", "1h");
    tool.ok(&["validate", "--offline"]);
    let (code, err) = tool.fails(&["validate"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("entry `jit`: field `permission_set`: `NoSuchSet` does not exist"),
        "{err}"
    );
}
