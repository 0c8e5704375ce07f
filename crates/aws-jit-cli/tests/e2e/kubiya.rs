//! The Kubiya bundle and the image its tools run in.

use super::*;

/// The Dockerfile cannot be built here (no Docker engine), so its promises are checked:
/// it builds this binary with the pinned toolchain, copies it to where the entrypoint runs
/// it, and that place is on the default PATH, where the Kubiya tools' scripts call `aws-jit`.
#[test]
fn the_dockerfile_builds_this_binary_and_runs_it_as_the_entrypoint() {
    let root = aws_jit_testkit::workspace_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_aws-jit"))
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        dockerfile.contains(&format!("cargo build --release --locked --bin {binary}")),
        "the build stage builds `{binary}`"
    );
    let toolchain = std::fs::read_to_string(root.join("rust-toolchain.toml")).unwrap();
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        dockerfile.contains(&format!("FROM rust:{channel}-")),
        "the builder uses the pinned toolchain {channel}"
    );
    let copied = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix(&format!("COPY --from=build /src/target/release/{binary} ")))
        .unwrap()
        .trim();
    let entrypoint = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .unwrap();
    assert_eq!(entrypoint, format!("[\"{copied}\"]"));
    assert_eq!(
        copied,
        format!("/usr/local/bin/{binary}"),
        "on the default PATH"
    );
    let bundle_dir = aws_jit_core::kubiya::CONFIG_DIR;
    assert!(dockerfile.contains(&format!("ENV AWS_JIT_CONFIG_DIR={bundle_dir}")));
}

#[test]
fn kubiya_bundle_writes_the_seeds_tools_for_the_seed_configs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
        .env_clear()
        .args([
            "kubiya",
            "bundle",
            "--image",
            "registry.example/aws-jit:1",
            "--out",
        ])
        .arg(dir.path())
        .arg("--config-dir")
        .arg(SEED_DIR)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("kubiya_bundle.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = bundle["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "jit_session_grant_database_access_to_staging",
            "s3_grant_read_access_to_buckets",
            "jit_session_revoke_database_access_to_staging",
            "s3_revoke_read_access_to_buckets",
        ]
    );
    for tool in bundle["tools"].as_array().unwrap() {
        assert_eq!(tool["image"], "registry.example/aws-jit:1");
        assert_eq!(tool["type"], "docker");
        let files = tool["with_files"].as_array().unwrap();
        assert!(
            files
                .iter()
                .any(|f| f["destination"] == "/etc/aws-jit/configs/access_configs.json")
        );
    }
    assert_eq!(bundle["errors"], serde_json::json!([]));
}

/// Renders a Kubiya tool script as Kubiya does (Go templates, `urlquery` being Go's
/// `QueryEscape`), runs it with `sh`, and checks that a hostile argument value is data, not
/// shell code.
#[test]
fn a_hostile_kubiya_argument_cannot_run_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
        .env_clear()
        .args(["kubiya", "bundle", "--out"])
        .arg(dir.path())
        .arg("--config-dir")
        .arg(SEED_DIR)
        .output()
        .unwrap();
    assert!(out.status.success());
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("kubiya_bundle.json")).unwrap(),
    )
    .unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_aws-jit"), bin_dir.join("aws-jit")).unwrap();
    let pwned = dir.path().join("pwned");
    let query_escape = |v: &str| -> String {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let hostile = format!(
        "PT1H' ; touch {p} ; echo '\nAWS_JIT_ARG_END\n)\ntouch {p}\n$(touch {p})`touch {p}`",
        p = pwned.display()
    );
    for tool in bundle["tools"].as_array().unwrap() {
        let script = tool["content"]
            .as_str()
            .unwrap()
            .replace("{{ .duration | urlquery }}", &query_escape(&hostile))
            .replace("{{ .user_email | urlquery }}", &query_escape(&hostile));
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("KUBIYA_USER_EMAIL", "alice@example.com")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", tool["name"]);
        assert!(!pwned.exists(), "{} ran injected commands", tool["name"]);
    }
}
