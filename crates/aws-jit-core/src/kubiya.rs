//! The Kubiya source bundle: the seed's tools (a grant and a revoke tool per access, with
//! the seed's names, `duration` argument and environment), each running the `aws-jit`
//! binary in a container instead of a Python script. Kubiya loads `kubiya_bundle.json` as
//! is, without running any code at discovery.
//!
//! The requester is always `KUBIYA_USER_EMAIL`, which Kubiya sets; no tool takes the user
//! as an argument except revoke's optional `user_email`, and the binary refuses that for
//! anyone but approvers. Kubiya pastes argument values into the script text (Go
//! templates), so a value chosen by a model could otherwise end a quote or a here-document
//! and run commands: every value goes through the template's `urlquery` function, whose
//! output has only letters, digits, `%`, `+`, `-`, `_`, `.` and `~`, inside single quotes,
//! and the binary decodes it (`--duration-urlencoded`, `--user-urlencoded`) and validates it.

use serde_json::{Value, json};

use crate::config::{Access, AccessTarget, Catalog, ConfigFile};

/// Kubiya's limit on tool and argument descriptions.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Where the configs are mounted in the container.
pub const CONFIG_DIR: &str = "/etc/aws-jit/configs";

/// The seed's tool icon.
const ICON: &str = "https://img.icons8.com/color/200/amazon-web-services.png";

/// What Kubiya passes into every tool container (the seed's list, plus aws-jit's own).
const ENV: [&str; 5] = [
    "AWS_PROFILE",
    "KUBIYA_USER_EMAIL",
    "SLACK_CHANNEL_ID",
    "SLACK_THREAD_TS",
    "AWS_JIT_APPROVERS",
];

/// Secrets: the seed's Slack token, and the store URL (it may hold a password).
const SECRETS: [&str; 2] = ["SLACK_API_TOKEN", "AWS_JIT_DB"];

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Quotes a word for `sh` (single quotes; a quote inside becomes `'\''`).
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// An argument's value as the script receives it: percent-encoded by the template, in
/// single quotes, so no value can reach the shell's parser.
fn encoded_arg(arg: &str) -> String {
    format!("'{{{{ .{arg} | urlquery }}}}'")
}

fn is_s3(access: &Access) -> bool {
    matches!(access.target, AccessTarget::S3 { .. })
}

/// The seed's tool name.
pub fn tool_name(access: &Access, grant: bool) -> String {
    let action = if grant { "grant" } else { "revoke" };
    if is_s3(access) {
        format!("s3_{action}_{}", access.slug)
    } else {
        format!("jit_session_{action}_{}", access.slug)
    }
}

fn description(access: &Access, grant: bool) -> String {
    let (label, verb) = if grant {
        ("Grant", "Grants")
    } else {
        ("Revoke", "Revokes")
    };
    let what = match &access.target {
        AccessTarget::IdentityCenter {
            account_id,
            permission_set,
        } => format!("access to AWS account {account_id} using {permission_set} permission set"),
        AccessTarget::EphemeralPermissionSet { account_id, .. } => {
            format!("access to AWS account {account_id} using a permission set made for the grant")
        }
        AccessTarget::S3 { buckets, .. } => {
            let names: Vec<&str> = buckets.iter().map(|b| b.as_str()).collect();
            format!("access to S3 buckets: {}", names.join(", "))
        }
    };
    let until = if grant {
        format!(
            " for you until it expires (at most {}), then revoked automatically",
            access.session_duration.human()
        )
    } else {
        String::new()
    };
    truncate(
        &format!("{} ({label}) - {verb} {what}{until}", access.description),
        MAX_DESCRIPTION_CHARS,
    )
}

fn duration_arg(access: &Access) -> Value {
    let max = access.session_duration.to_string();
    let text = if is_s3(access) {
        format!("Duration for the access (maximum {max}) - ISO8601 format (e.g., 'PT1H')")
    } else {
        format!(
            "Duration for the access token to be valid (maximum {max}) - needs to be in ISO8601 format eg: 'PT1H'"
        )
    };
    json!({
        "name": "duration",
        "type": "str",
        "description": truncate(&text, MAX_DESCRIPTION_CHARS),
        "required": false,
        "default": max,
    })
}

fn user_arg() -> Value {
    json!({
        "name": "user_email",
        "type": "str",
        "description": "The email of the user to revoke access for (default: you; revoking someone else's access needs approver rights)",
        "required": false,
    })
}

fn content(access: &Access, grant: bool, default_requesters: Option<&str>) -> String {
    let key = sh_quote(&access.key);
    let mut script = vec![
        "#!/bin/sh".to_owned(),
        "# The requester is KUBIYA_USER_EMAIL, set by Kubiya: never a tool argument.".to_owned(),
        "set -eu".to_owned(),
        format!("export AWS_JIT_CONFIG_DIR={CONFIG_DIR}"),
    ];
    if let Some(list) = default_requesters {
        // Baked in: the tools decide with the same default as the bundle was checked with.
        script.push(format!(
            "export AWS_JIT_DEFAULT_REQUESTERS={}",
            sh_quote(list)
        ));
    }
    if grant {
        script.push(format!(
            "exec aws-jit grant {key} --user \"$KUBIYA_USER_EMAIL\" --duration-urlencoded {}",
            encoded_arg("duration")
        ));
    } else {
        // An empty `user_email` means the requester themself.
        script.push(format!(
            "exec aws-jit revoke {key} --user-urlencoded {}",
            encoded_arg("user_email")
        ));
    }
    script.join("\n") + "\n"
}

fn mermaid(access: &Access, grant: bool) -> String {
    let aws = if is_s3(access) {
        "participant A as 📜 IAM"
    } else {
        "participant A as 🔐 IAM Identity Center"
    };
    let steps = match (is_s3(access), grant) {
        (false, true) => [
            "T->>+A: 🔎 Find user by email, permission set by name",
            "T->>A: 🔧 Create account assignment, poll until it succeeds",
        ],
        (false, false) => [
            "T->>+A: 🔎 Find the grant's assignment",
            "T->>A: ❌ Delete the assignment (unless standing or shared), poll",
        ],
        (true, true) => [
            "T->>+A: 🔎 Find IAM user by name or email tag",
            "T->>A: 📎 Create the least-privilege policy (or use the existing one) and attach it",
        ],
        (true, false) => [
            "T->>+A: 🔎 Find the grant's policy",
            "T->>A: 🧹 Detach it; delete it only if this grant created it",
        ],
    };
    let (ask, done) = if grant {
        ("Request access", "Access granted until expiry 🎉")
    } else {
        ("Revoke access", "Access revoked 🔒")
    };
    [
        "sequenceDiagram".to_owned(),
        "    participant U as 👤 User".to_owned(),
        "    participant T as 🛠️ aws-jit".to_owned(),
        "    participant D as 🗄️ Store (audit log)".to_owned(),
        format!("    {aws}"),
        "    participant N as 📧 Slack".to_owned(),
        format!("    U->>+T: {ask}"),
        "    T->>D: Record the change first (crash-safe)".to_owned(),
        format!("    {}", steps[0]),
        "    A-->>-T: ✅".to_owned(),
        format!("    {}", steps[1]),
        "    T->>D: Record the outcome and its audit event".to_owned(),
        "    T->>N: Notify".to_owned(),
        format!("    T-->>-U: {done}"),
    ]
    .join("\n")
}

fn tool(
    access: &Access,
    grant: bool,
    image: &str,
    files: &[Value],
    default_requesters: Option<&str>,
) -> Value {
    let args = if grant {
        vec![duration_arg(access)]
    } else {
        vec![user_arg()]
    };
    json!({
        "name": tool_name(access, grant),
        "description": description(access, grant),
        "type": "docker",
        "image": image,
        "content": content(access, grant, default_requesters),
        "args": args,
        "env": ENV,
        "secrets": SECRETS,
        "with_files": files,
        "icon_url": ICON,
        "long_running": false,
        "mermaid": mermaid(access, grant),
    })
}

/// The bundle for a catalog: `configs` are the config files' texts (and `policies`, the
/// organisation's `policies.cedar`; `default_requesters` is baked into every script),
/// mounted into every tool container under
/// [`CONFIG_DIR`] so that the tools need nothing baked into the image and decide with the
/// same policies as every other front door.
pub fn bundle(
    catalog: &Catalog,
    configs: &[(ConfigFile, &str)],
    policies: Option<&str>,
    default_requesters: Option<&str>,
    image: &str,
) -> Value {
    let mount = |name: &str, text: &str| {
        json!({
            "source": name,
            "destination": format!("{CONFIG_DIR}/{name}"),
            "content": text,
        })
    };
    let mut files: Vec<Value> = configs
        .iter()
        .map(|(file, text)| mount(file.file_name(), text))
        .collect();
    if let Some(text) = policies {
        files.push(mount(crate::eligibility::POLICY_FILE, text));
    }
    // The seed's AWS credential files (the profile named by AWS_PROFILE).
    for name in ["credentials", "config"] {
        files.push(json!({
            "source": format!("$HOME/.aws/{name}"),
            "destination": format!("/root/.aws/{name}"),
        }));
    }
    let mut tools = Vec::new();
    // The seed's order: every grant tool, then every revoke tool; Identity Center first.
    for grant in [true, false] {
        for s3 in [false, true] {
            for access in catalog.accesses().iter().filter(|a| is_s3(a) == s3) {
                tools.push(tool(access, grant, image, &files, default_requesters));
            }
        }
    }
    json!({
        "tools": tools,
        "errors": [],
        // Required by Kubiya's bundle model; these tools run in containers, not Python.
        "python_bundle_version": "3.12",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    const SEED_SSO: &str = r#"{
        "DB Access to Staging": {
            "name": "Database Access to Staging",
            "description": "Grants access to all staging RDS databases",
            "account_id": "876809951775",
            "permission_set": "ECRReadOnly",
            "session_duration": "PT1H"
        }
    }"#;
    const SEED_S3: &str = r#"{
        "Read Access to Important Buckets": {
            "name": "Read Access to Buckets",
            "description": "Grants read access to specific S3 buckets",
            "buckets": ["bucket1", "bucket2"],
            "policy_template": "S3ReadOnlyPolicy",
            "session_duration": "PT1H"
        }
    }"#;

    fn seed_bundle() -> Value {
        let configs = [
            (ConfigFile::AccessConfigs, SEED_SSO),
            (ConfigFile::S3Configs, SEED_S3),
        ];
        let sources: Vec<ConfigSource<'_>> = configs
            .iter()
            .map(|(file, text)| ConfigSource { file: *file, text })
            .collect();
        let catalog = Catalog::parse(&sources).unwrap();
        bundle(
            &catalog,
            &configs,
            None,
            None,
            "ghcr.io/example/aws-jit:0.1.0",
        )
    }

    #[test]
    fn the_seed_configs_give_the_seeds_tool_names_and_arguments() {
        let b = seed_bundle();
        let tools = b["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "jit_session_grant_database_access_to_staging",
                "s3_grant_read_access_to_buckets",
                "jit_session_revoke_database_access_to_staging",
                "s3_revoke_read_access_to_buckets",
            ]
        );
        let grant = &tools[0];
        assert_eq!(
            grant["args"][0]["description"],
            "Duration for the access token to be valid (maximum PT1H) - needs to be in ISO8601 format eg: 'PT1H'"
        );
        assert_eq!(grant["args"][0]["default"], "PT1H");
        assert_eq!(
            grant["args"].as_array().unwrap().len(),
            1,
            "no user argument"
        );
        assert!(
            grant["env"]
                .as_array()
                .unwrap()
                .contains(&json!("KUBIYA_USER_EMAIL"))
        );
        for t in tools {
            assert!(t["description"].as_str().unwrap().chars().count() <= MAX_DESCRIPTION_CHARS);
        }
    }

    #[test]
    fn arguments_reach_the_script_only_percent_encoded_in_single_quotes() {
        let b = seed_bundle();
        for tool in b["tools"].as_array().unwrap() {
            let script = tool["content"].as_str().unwrap();
            // Every template use is `'{{ .x | urlquery }}'`: nothing else is pasted in.
            assert_eq!(script.matches("{{").count(), 1, "{script}");
            assert!(
                script.contains("'{{ .duration | urlquery }}'")
                    || script.contains("'{{ .user_email | urlquery }}'"),
                "{script}"
            );
        }
        let grant = b["tools"][0]["content"].as_str().unwrap();
        assert!(grant.contains(
            "exec aws-jit grant 'DB Access to Staging' --user \"$KUBIYA_USER_EMAIL\" --duration-urlencoded '{{ .duration | urlquery }}'"
        ));
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn long_descriptions_are_cut_to_kubiyas_limit() {
        let long = "x".repeat(2_000);
        let cut = truncate(&long, MAX_DESCRIPTION_CHARS);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn the_seed_bundle_snapshot() {
        insta::assert_json_snapshot!(seed_bundle());
    }
}
