//! The Kubiya source bundle: the seed's tools (a grant and a revoke tool per access, with
//! the seed's names, `duration` argument and environment), an extend tool per access that
//! can be extended, and, where some access needs approval, tools to list and decide
//! requests; plus a tool listing my grants. Each runs the `aws-jit` binary in a container
//! (`entrypoint: ["/bin/sh", "-c"]` runs the tool's script, not the image's own
//! entrypoint). Kubiya loads `kubiya_bundle.json` as is, without running any code at
//! discovery.
//!
//! The requester (and the approver) is always `KUBIYA_USER_EMAIL`, which Kubiya sets; no
//! tool takes the person as an argument except revoke's optional `user_email`, and the
//! binary refuses that for anyone but approvers. Kubiya pastes argument values into the
//! script text (Go templates), so a value chosen by a model could otherwise end a quote or
//! a here-document and run commands: every value goes through the template's `urlquery`
//! function, whose output has only letters, digits, `%`, `+`, `-`, `_`, `.` and `~`,
//! inside single quotes, and the binary decodes it (the hidden `--…-urlencoded` flags)
//! and validates it. An optional argument left unset renders as nothing, `<no value>`
//! (Go's own rendering) or `<nil>`; the binary reads all three as unset
//! ([`template_value`]).

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

/// Text for the script that Kubiya's templates must pass through as it is: a `{{` in it
/// (an access key, say) would otherwise start a template action, and with it an
/// argument's value unescaped. Go templates print `{{"{{"}}` as `{{`.
fn go_literal(text: &str) -> String {
    text.replace("{{", "{{\"{{\"}}")
}

/// What Go templates render for an optional argument left unset, depending on how it is
/// left out (absent key, nil, empty string).
pub const UNSET_RENDERINGS: [&str; 3] = ["", "<no value>", "<nil>"];

/// A value a tool passed percent-encoded: decoded, and `None` when the template left it
/// unset ([`UNSET_RENDERINGS`]).
pub fn template_value(encoded: &str) -> Result<Option<String>, String> {
    let decoded = crate::ids::percent_decode(encoded)
        .ok_or_else(|| "malformed percent-encoding".to_owned())?;
    Ok((!UNSET_RENDERINGS.contains(&decoded.trim())).then_some(decoded))
}

/// A boolean argument's value (`true` or `false`, as Go renders them; `yes`/`no` and
/// `1`/`0` too).
pub fn template_flag(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        other => Err(format!(
            "`{}` is not true or false",
            crate::text::printable(other)
        )),
    }
}

/// An argument's value as the script receives it: percent-encoded by the template, in
/// single quotes, so no value can reach the shell's parser.
fn encoded_arg(arg: &str) -> String {
    format!("'{{{{ .{arg} | urlquery }}}}'")
}

fn is_s3(access: &Access) -> bool {
    matches!(access.target, AccessTarget::S3 { .. })
}

/// What a per-access tool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToolAction {
    Grant,
    Revoke,
    Extend,
}

impl ToolAction {
    fn word(self) -> &'static str {
        match self {
            ToolAction::Grant => "grant",
            ToolAction::Revoke => "revoke",
            ToolAction::Extend => "extend",
        }
    }
}

/// The seed's tool name (and the same shape for extend).
pub fn tool_name(access: &Access, grant: bool) -> String {
    action_tool_name(
        access,
        if grant {
            ToolAction::Grant
        } else {
            ToolAction::Revoke
        },
    )
}

fn action_tool_name(access: &Access, action: ToolAction) -> String {
    if is_s3(access) {
        format!("s3_{}_{}", action.word(), access.slug)
    } else {
        format!("jit_session_{}_{}", action.word(), access.slug)
    }
}

/// Whether an access's grants can be extended: not when it needs approval (request it
/// again), nor S3 grants (their policy carries the expiry).
fn extendable(access: &Access) -> bool {
    access.approval.is_none() && !is_s3(access)
}

fn description(access: &Access, action: ToolAction) -> String {
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
    let text = match action {
        ToolAction::Grant => {
            let approval = match &access.approval {
                Some(policy) => format!(
                    "; needs {} approval{} first, so the tool answers with a request id to wait on",
                    policy.required,
                    if policy.required == 1 { "" } else { "s" }
                ),
                None => String::new(),
            };
            format!(
                "{} (Grant) - Grants {what} for you until it expires (at most {}), then revoked automatically{approval}",
                access.description,
                access.session_duration.human()
            )
        }
        ToolAction::Revoke => format!("{} (Revoke) - Revokes {what}", access.description),
        ToolAction::Extend => format!(
            "{} (Extend) - Extends your live grant of {what}, never beyond {} after it started",
            access.description,
            access.session_duration.human()
        ),
    };
    truncate(&text, MAX_DESCRIPTION_CHARS)
}

fn arg(name: &str, kind: &str, description: &str, required: bool, default: Option<Value>) -> Value {
    let mut arg = json!({
        "name": name,
        "type": kind,
        "description": truncate(description, MAX_DESCRIPTION_CHARS),
        "required": required,
    });
    if let (Some(default), Some(map)) = (default, arg.as_object_mut()) {
        map.insert("default".to_owned(), default);
    }
    arg
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
    arg("duration", "str", &text, false, Some(json!(max)))
}

/// Whether an access's grant tool must be given a reason: when the access requires one,
/// or approvers will read it.
fn reason_required(access: &Access) -> bool {
    access.require_reason || access.approval.is_some()
}

fn reason_arg(access: &Access) -> Value {
    let text = if reason_required(access) {
        "Why you need the access, in a sentence (a ticket or incident id helps): required, recorded in the audit log and shown to approvers"
    } else {
        "Why you need the access, in a sentence (a ticket or incident id helps): recorded in the audit log"
    };
    arg("reason", "str", text, reason_required(access), None)
}

fn break_glass_arg(access: &Access) -> Value {
    let text = format!(
        "true only in an emergency: skips approval for at most {}, needs a reason, and alerts the admins; false otherwise",
        access.break_glass_duration.human()
    );
    arg("break_glass", "bool", &text, false, Some(json!(false)))
}

fn user_arg() -> Value {
    arg(
        "user_email",
        "str",
        "The email of the user to revoke access for (default: you; revoking someone else's access needs approver rights)",
        false,
        None,
    )
}

fn by_arg(access: &Access) -> Value {
    arg(
        "by",
        "str",
        &format!(
            "How much longer (e.g. 'PT30M' or '30m'); default and most: up to {} after the grant started",
            access.session_duration.human()
        ),
        false,
        None,
    )
}

fn script(lines: &[String], default_requesters: Option<&str>) -> String {
    let mut script = vec![
        "#!/bin/sh".to_owned(),
        "# The person is KUBIYA_USER_EMAIL, set by Kubiya: never a tool argument.".to_owned(),
        "set -eu".to_owned(),
        format!("export AWS_JIT_CONFIG_DIR={CONFIG_DIR}"),
    ];
    if let Some(list) = default_requesters {
        // Baked in: the tools decide with the same default as the bundle was checked with.
        script.push(format!(
            "export AWS_JIT_DEFAULT_REQUESTERS={}",
            go_literal(&sh_quote(list))
        ));
    }
    script.extend(lines.iter().cloned());
    script.join("\n") + "\n"
}

fn content(access: &Access, action: ToolAction) -> String {
    let key = go_literal(&sh_quote(&access.key));
    match action {
        ToolAction::Grant => {
            let mut command = format!(
                "exec aws-jit grant {key} --user \"$KUBIYA_USER_EMAIL\" --duration-urlencoded {} --reason-urlencoded {}",
                encoded_arg("duration"),
                encoded_arg("reason")
            );
            if access.break_glass {
                command.push_str(&format!(
                    " --break-glass-urlencoded {}",
                    encoded_arg("break_glass")
                ));
            }
            command
        }
        // An unset `user_email` means the requester themself.
        ToolAction::Revoke => format!(
            "exec aws-jit revoke {key} --user-urlencoded {}",
            encoded_arg("user_email")
        ),
        ToolAction::Extend => format!(
            "exec aws-jit extend {key} --user \"$KUBIYA_USER_EMAIL\" --by-urlencoded {}",
            encoded_arg("by")
        ),
    }
}

fn mermaid(access: &Access, action: ToolAction) -> String {
    let aws = if is_s3(access) {
        "participant A as 📜 IAM"
    } else {
        "participant A as 🔐 IAM Identity Center"
    };
    let steps = match (is_s3(access), action) {
        (_, ToolAction::Extend) => [
            "T->>D: ⏳ Check the access's maximum and the policies",
            "T->>D: Move the expiry later (nothing changes in AWS)",
        ],
        (false, ToolAction::Grant) => [
            "T->>+A: 🔎 Find user by email, permission set by name",
            "T->>A: 🔧 Create account assignment, poll until it succeeds",
        ],
        (false, ToolAction::Revoke) => [
            "T->>+A: 🔎 Find the grant's assignment",
            "T->>A: ❌ Delete the assignment (unless standing or shared), poll",
        ],
        (true, ToolAction::Grant) => [
            "T->>+A: 🔎 Find IAM user by name or email tag",
            "T->>A: 📎 Create the least-privilege policy (or use the existing one) and attach it",
        ],
        (true, ToolAction::Revoke) => [
            "T->>+A: 🔎 Find the grant's policy",
            "T->>A: 🧹 Detach it; delete it only if this grant created it",
        ],
    };
    let (ask, done) = match action {
        ToolAction::Grant => ("Request access", "Access granted until expiry 🎉"),
        ToolAction::Revoke => ("Revoke access", "Access revoked 🔒"),
        ToolAction::Extend => ("Extend access", "Access extended ⏳"),
    };
    let mut lines = vec![
        "sequenceDiagram".to_owned(),
        "    participant U as 👤 User".to_owned(),
        "    participant T as 🛠️ aws-jit".to_owned(),
        "    participant D as 🗄️ Store (audit log)".to_owned(),
        format!("    {aws}"),
        "    participant N as 📧 Slack".to_owned(),
        format!("    U->>+T: {ask}"),
        "    T->>D: Record the change first (crash-safe)".to_owned(),
        format!("    {}", steps[0]),
    ];
    if action == ToolAction::Extend {
        lines.push(format!("    {}", steps[1]));
    } else {
        lines.push("    A-->>-T: ✅".to_owned());
        lines.push(format!("    {}", steps[1]));
        lines.push("    T->>D: Record the outcome and its audit event".to_owned());
    }
    lines.push("    T->>N: Notify".to_owned());
    lines.push(format!("    T-->>-U: {done}"));
    lines.join("\n")
}

/// What every tool shares: the image, how it runs, its environment and files.
struct Common<'a> {
    image: &'a str,
    files: &'a [Value],
    default_requesters: Option<&'a str>,
}

impl Common<'_> {
    fn tool(
        &self,
        name: &str,
        description: &str,
        lines: &[String],
        args: &[Value],
        mermaid: Option<String>,
    ) -> Value {
        let mut tool = json!({
            "name": name,
            "description": description,
            "type": "docker",
            "image": self.image,
            // The script runs under the shell, not as arguments to the image's entrypoint.
            "entrypoint": ["/bin/sh", "-c"],
            "content": script(lines, self.default_requesters),
            "args": args,
            "env": ENV,
            "secrets": SECRETS,
            "with_files": self.files,
            "icon_url": ICON,
            "long_running": false,
        });
        if let (Some(mermaid), Some(map)) = (mermaid, tool.as_object_mut()) {
            map.insert("mermaid".to_owned(), json!(mermaid));
        }
        tool
    }

    fn access_tool(&self, access: &Access, action: ToolAction) -> Value {
        let args = match action {
            ToolAction::Grant => {
                let mut args = vec![duration_arg(access), reason_arg(access)];
                if access.break_glass {
                    args.push(break_glass_arg(access));
                }
                args
            }
            ToolAction::Revoke => vec![user_arg()],
            ToolAction::Extend => vec![by_arg(access)],
        };
        self.tool(
            &action_tool_name(access, action),
            &description(access, action),
            &[content(access, action)],
            &args,
            Some(mermaid(access, action)),
        )
    }
}

fn request_id_arg() -> Value {
    arg(
        "request_id",
        "str",
        "The request's id, as aws_jit_pending_approvals lists it (or as the approval message shows it)",
        true,
        None,
    )
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
    let common = Common {
        image,
        files: &files,
        default_requesters,
    };
    let mut tools = Vec::new();
    // The seed's order: every grant tool, then every revoke tool; Identity Center first.
    // Then the extend tools, in the same order.
    for action in [ToolAction::Grant, ToolAction::Revoke, ToolAction::Extend] {
        for s3 in [false, true] {
            for access in catalog.accesses().iter().filter(|a| is_s3(a) == s3) {
                if action != ToolAction::Extend || extendable(access) {
                    tools.push(common.access_tool(access, action));
                }
            }
        }
    }
    tools.push(common.tool(
        "aws_jit_my_grants",
        "Lists your live AWS access grants (and requests waiting for approval): access, status, expiry and grant id",
        &["exec aws-jit grants --user \"$KUBIYA_USER_EMAIL\"".to_owned()],
        &[],
        None,
    ));
    if catalog.accesses().iter().any(|a| a.approval.is_some()) {
        tools.push(common.tool(
            "aws_jit_pending_approvals",
            "Lists the access requests waiting for approval that you may decide (never your own): request id, access, requester, reason and approvals so far",
            &["exec aws-jit approvals".to_owned()],
            &[],
            None,
        ));
        for approve in [true, false] {
            let (verb, what, reason) = if approve {
                (
                    "approve",
                    "Approves an access request you may decide (never your own); with enough approvals the access is granted at once",
                    "Why you approve (optional; recorded in the audit log)",
                )
            } else {
                (
                    "deny",
                    "Denies an access request you may decide (never your own); the requester is told",
                    "Why you deny it (told to the requester and recorded in the audit log)",
                )
            };
            tools.push(common.tool(
                &format!("aws_jit_{verb}"),
                what,
                &[format!(
                    "exec aws-jit {verb} --request-urlencoded {} --reason-urlencoded {}",
                    encoded_arg("request_id"),
                    encoded_arg("reason")
                )],
                &[
                    request_id_arg(),
                    arg("reason", "str", reason, !approve, None),
                ],
                None,
            ));
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

    /// The bundle of an `access_configs.json` alone.
    fn access_configs_bundle(text: &str) -> Value {
        let catalog = Catalog::parse(&[ConfigSource {
            file: ConfigFile::AccessConfigs,
            text,
        }])
        .unwrap();
        bundle(
            &catalog,
            &[(ConfigFile::AccessConfigs, text)],
            None,
            None,
            "i",
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
                "jit_session_extend_database_access_to_staging",
                "aws_jit_my_grants",
            ]
        );
        let grant = &tools[0];
        assert_eq!(
            grant["args"][0]["description"],
            "Duration for the access token to be valid (maximum PT1H) - needs to be in ISO8601 format eg: 'PT1H'"
        );
        assert_eq!(grant["args"][0]["default"], "PT1H");
        let args: Vec<&str> = grant["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(args, ["duration", "reason"], "no user argument");
        assert_eq!(grant["args"][1]["required"], false);
        assert_eq!(grant["entrypoint"], json!(["/bin/sh", "-c"]));
        assert!(
            grant["env"]
                .as_array()
                .unwrap()
                .contains(&json!("KUBIYA_USER_EMAIL"))
        );
        for t in tools {
            assert!(t["description"].as_str().unwrap().chars().count() <= MAX_DESCRIPTION_CHARS);
            for a in t["args"].as_array().unwrap() {
                assert!(!a["description"].as_str().unwrap().is_empty(), "{a}");
            }
        }
    }

    #[test]
    fn approval_and_break_glass_give_their_arguments_and_the_approver_tools() {
        let text = r#"{"prod": {"name": "Prod", "description": "d", "account_id": "123456789012", "permission_set": "Admin", "session_duration": "PT1H", "approvers": ["lead@example.com"], "break_glass": true, "break_glass_duration": "15m"}}"#;
        let b = access_configs_bundle(text);
        let tools = b["tools"].as_array().unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "jit_session_grant_prod",
                "jit_session_revoke_prod",
                "aws_jit_my_grants",
                "aws_jit_pending_approvals",
                "aws_jit_approve",
                "aws_jit_deny",
            ],
            "no extend: approvers decide again"
        );
        let grant = &tools[0];
        assert_eq!(grant["args"][1]["name"], "reason");
        assert_eq!(grant["args"][1]["required"], true, "approvers read it");
        assert_eq!(grant["args"][2]["name"], "break_glass");
        assert_eq!(grant["args"][2]["type"], "bool");
        assert!(
            grant["content"]
                .as_str()
                .unwrap()
                .contains("--break-glass-urlencoded '{{ .break_glass | urlquery }}'")
        );
        let approve = &tools[4];
        assert!(approve["content"].as_str().unwrap().contains(
            "exec aws-jit approve --request-urlencoded '{{ .request_id | urlquery }}' --reason-urlencoded '{{ .reason | urlquery }}'"
        ));
    }

    #[test]
    fn arguments_reach_the_script_only_percent_encoded_in_single_quotes() {
        let b = seed_bundle();
        for tool in b["tools"].as_array().unwrap() {
            let script = tool["content"].as_str().unwrap();
            let args = tool["args"].as_array().unwrap();
            // Every template use is `'{{ .x | urlquery }}'` for an argument: nothing else is
            // pasted in.
            assert_eq!(script.matches("{{").count(), args.len(), "{script}");
            for a in args {
                let name = a["name"].as_str().unwrap();
                assert!(
                    script.contains(&format!("'{{{{ .{name} | urlquery }}}}'")),
                    "{script}"
                );
            }
        }
        let grant = b["tools"][0]["content"].as_str().unwrap();
        assert!(grant.contains(
            "exec aws-jit grant 'DB Access to Staging' --user \"$KUBIYA_USER_EMAIL\" --duration-urlencoded '{{ .duration | urlquery }}' --reason-urlencoded '{{ .reason | urlquery }}'"
        ));
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn template_syntax_in_an_access_key_stays_text() {
        let text = r#"{"{{ .reason }}": {"name": "Odd", "description": "d", "account_id": "123456789012", "permission_set": "P", "session_duration": "PT1H"}}"#;
        let b = access_configs_bundle(text);
        let grant = b["tools"][0]["content"].as_str().unwrap();
        assert!(
            grant.contains(r#"exec aws-jit grant '{{"{{"}} .reason }}' --user"#),
            "{grant}"
        );
    }

    #[test]
    fn unset_arguments_whatever_the_template_renders_are_unset() {
        for unset in ["", "%3Cno+value%3E", "%3Cnil%3E", "+"] {
            assert_eq!(template_value(unset), Ok(None), "{unset}");
        }
        assert_eq!(template_value("PT1H").unwrap().as_deref(), Some("PT1H"));
        assert_eq!(template_value("a%27b+c").unwrap().as_deref(), Some("a'b c"));
        assert!(template_value("%zz").is_err());
        assert_eq!(template_flag("true"), Ok(true));
        assert_eq!(template_flag("False"), Ok(false));
        assert!(template_flag("maybe").is_err());
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
