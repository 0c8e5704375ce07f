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
            "jit_session_extend_database_access_to_staging",
            "aws_jit_my_grants",
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

/// Writes the bundle for the configs in `config_dir`; the bundle.
fn bundle_of(config_dir: &Path, dir: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_aws-jit"))
        .env_clear()
        .args(["kubiya", "bundle", "--out"])
        .arg(dir)
        .arg("--config-dir")
        .arg(config_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(dir.join("kubiya_bundle.json")).unwrap()).unwrap()
}

/// Go's `url.QueryEscape`, which Kubiya's `urlquery` template function is.
fn query_escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Renders a tool script as Kubiya does: every `{{ .name | urlquery }}` becomes the
/// argument's value, escaped; an argument left unset renders as Go's `<no value>`.
fn render(script: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(at) = rest.find("{{ .") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let end = after.find(" | urlquery }}").unwrap();
        let name = &after[..end];
        let value = values
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("<no value>", |(_, v)| v);
        out.push_str(&query_escape(value));
        rest = &after[end + " | urlquery }}".len()..];
    }
    out.push_str(rest);
    assert!(!out.contains("{{"), "{out}");
    out
}

/// A bin directory with `aws-jit` in it, as the image has on its PATH.
fn bin_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_aws-jit"), bin.join("aws-jit")).unwrap();
    bin
}

/// Runs a rendered tool script with `sh`, and checks that a hostile argument value is
/// data, not shell code.
#[test]
fn a_hostile_kubiya_argument_cannot_run_commands() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_of(Path::new(SEED_DIR), dir.path());
    let bin = bin_dir(dir.path());
    let pwned = dir.path().join("pwned");
    let hostile = format!(
        "PT1H' ; touch {p} ; echo '\nAWS_JIT_ARG_END\n)\ntouch {p}\n$(touch {p})`touch {p}`",
        p = pwned.display()
    );
    let mut tried = 0;
    for tool in bundle["tools"].as_array().unwrap() {
        let args: Vec<&str> = tool["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        if args.is_empty() {
            continue;
        }
        let values: Vec<(&str, &str)> = args.iter().map(|a| (*a, hostile.as_str())).collect();
        let script = render(tool["content"].as_str().unwrap(), &values);
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("KUBIYA_USER_EMAIL", "alice@example.com")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", tool["name"]);
        assert!(!pwned.exists(), "{} ran injected commands", tool["name"]);
        tried += 1;
    }
    assert_eq!(tried, 5, "every tool with arguments");
}

/// The bundle as the Kubiya SDK (PyPI `kubiya-sdk`, pinned) reads it: its own pydantic
/// model accepts it and drops nothing.
#[test]
fn the_bundle_loads_in_the_kubiya_sdks_own_bundle_model() {
    let python = std::env::var("AWS_JIT_KUBIYA_PYTHON").unwrap_or_else(|_| {
        aws_jit_testkit::workspace_root()
            .join(".venv/kubiya/bin/python")
            .display()
            .to_string()
    });
    assert!(
        Path::new(&python).exists(),
        "no Kubiya SDK at {python}: run scripts/setup-moto"
    );
    let check = aws_jit_testkit::workspace_root().join("tests/kubiya/check_bundle.py");
    // The seed's configs, and accesses with every argument (approval, break-glass, a
    // required reason).
    let rich = tempfile::tempdir().unwrap();
    std::fs::write(
        rich.path().join("access_configs.json"),
        serde_json::json!({
            "prod": {
                "name": "Prod Admin", "description": "d", "account_id": "123456789012",
                "permission_set": "AdministratorAccess", "session_duration": "PT1H",
                "approvers": ["lead@example.com"], "break_glass": true,
                "break_glass_duration": "15m",
            },
            "db": {
                "name": "DB", "description": "d", "account_id": "123456789012",
                "permission_set": "DBRead", "session_duration": "PT2H", "require_reason": true,
            },
        })
        .to_string(),
    )
    .unwrap();
    for (configs, tools) in [(Path::new(SEED_DIR), 6), (rich.path(), 9)] {
        let dir = tempfile::tempdir().unwrap();
        bundle_of(configs, dir.path());
        let out = Command::new(&python)
            .arg(&check)
            .arg(dir.path().join("kubiya_bundle.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read: Value = serde_json::from_slice(&out.stdout).unwrap();
        let read = read.as_array().unwrap();
        assert_eq!(read.len(), tools, "{read:?}");
        for tool in read {
            assert_eq!(tool["entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
        }
        if tools == 9 {
            let grant = read
                .iter()
                .find(|t| t["name"] == "jit_session_grant_prod_admin")
                .unwrap();
            assert_eq!(
                grant["args"],
                serde_json::json!([
                    {"name": "duration", "type": "string", "required": false},
                    {"name": "reason", "type": "string", "required": true},
                    {"name": "break_glass", "type": "boolean", "required": false},
                ])
            );
        }
    }
}

/// An access that requires a reason, granted through its Kubiya tool: the script as
/// Kubiya renders it (the duration left unset, a reason with quotes and shell syntax in
/// it), run by `sh` with the configs where the bundle mounts them. AWS is checked through
/// the SDK; the reason is stored as it was typed.
#[tokio::test]
async fn a_kubiya_tool_grants_an_access_that_requires_a_reason() {
    let f = Fixture::new().await;
    let config = serde_json::json!({
        "db": {
            "name": "DB Access", "description": "d", "account_id": f.account,
            "permission_set": f.permission_set, "session_duration": "PT1H",
            "require_reason": true,
        }
    });
    let tool = Tool::with_config(&f.aws, "access_configs.json", &config);
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_of(&tool.config_dir, dir.path());
    let tool_named = |name: &str| {
        bundle["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    let grant = tool_named("jit_session_grant_db_access");
    // Kubiya mounts `with_files` into the container; here, into a directory of the test's.
    let mounted = dir.path().join("configs");
    std::fs::create_dir(&mounted).unwrap();
    for file in grant["with_files"].as_array().unwrap() {
        if let Some(content) = file["content"].as_str() {
            let name = Path::new(file["destination"].as_str().unwrap())
                .file_name()
                .unwrap();
            std::fs::write(mounted.join(name), content).unwrap();
        }
    }
    let bin = bin_dir(dir.path());
    let pwned = dir.path().join("pwned");
    let run = |tool_json: &Value, values: &[(&str, &str)]| {
        let script = render(tool_json["content"].as_str().unwrap(), values)
            .replace(aws_jit_core::kubiya::CONFIG_DIR, mounted.to_str().unwrap());
        let mut command = tool.command(&[]);
        command
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("KUBIYA_USER_EMAIL", &f.email);
        let mut sh = Command::new("sh");
        sh.arg("-c").arg(&script);
        sh.env_clear();
        for (k, v) in command.get_envs() {
            if let (Some(v), Some(k)) = (v, k.to_str()) {
                sh.env(k, v);
            }
        }
        sh.output().unwrap()
    };
    // Without a reason (unset: `<no value>`), refused, and nothing is granted.
    let out = run(&grant, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reason"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.assignments().await, 0);
    let reason = format!(
        "INC-7 it's \"down\"; $(touch {p}) `touch {p}`",
        p = pwned.display()
    );
    let out = run(&grant, &[("duration", "30m"), ("reason", reason.as_str())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!pwned.exists());
    assert_eq!(f.assignments().await, 1);
    let grants = tool.json(&["grants"]);
    assert_eq!(grants[0]["reason"], reason.as_str());
    // The extend tool with `by` left unset: up to the access's maximum.
    let out = run(&tool_named("jit_session_extend_db_access"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = run(&tool_named("aws_jit_my_grants"), &[]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("db"), "{listed}");
    let extended = tool.json(&["grants"]);
    let span = |g: &Value, field: &str| {
        g[field]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    assert_eq!(
        span(&extended[0], "expires_at").as_second() - span(&extended[0], "granted_at").as_second(),
        3_600
    );
}
