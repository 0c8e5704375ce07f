//! The command line: clap definitions only. Parsing values into domain types happens in
//! the commands, before anything touches AWS or the store.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Just-in-time, time-boxed AWS access.
///
/// Exit codes: 0 ok; 1 runtime failure (AWS, store); 2 usage error; 3 invalid config or
/// request (unknown access, user or grant, bad duration); 4 not permitted.
#[derive(Debug, Parser)]
#[command(
    name = "aws-jit",
    version = env!("AWS_JIT_LONG_VERSION"),
    about,
    long_about = None,
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Directory holding access_configs.json and/or s3_configs.json.
    #[arg(
        long,
        global = true,
        env = "AWS_JIT_CONFIG_DIR",
        default_value = "./configs"
    )]
    pub config_dir: PathBuf,

    /// Store URL.
    #[arg(
        long,
        global = true,
        env = "AWS_JIT_DB",
        default_value = "sqlite://./aws-jit.db"
    )]
    pub db: String,

    /// A TOML settings file (flags and `AWS_JIT_*` variables override it).
    #[arg(long, global = true, env = "AWS_JIT_SETTINGS")]
    pub settings: Option<PathBuf>,

    /// Diagnostics format on stderr: text for people, json for log collectors.
    #[arg(long, global = true, value_enum, env = "AWS_JIT_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Output format: `table` (`human`) for people, `json` for scripts.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,

    /// More diagnostics on stderr (-v: info, -vv: debug incl. one line per AWS call).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// The settings file's contents (empty without one).
    #[arg(skip)]
    pub file: crate::settings_file::SettingsFile,

    /// Every other setting, resolved from the environment and the file.
    #[arg(skip)]
    pub resolved: crate::settings::Resolved,
}

/// Diagnostics formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// The exit codes, shown under `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  runtime failure (AWS or store error; a failed revocation stays due for `sweep`)
  2  usage error
  3  invalid config or request (unknown access, user or grant; bad duration)
  4  not permitted";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Text for people.
    #[value(name = "table", alias = "human")]
    Human,
    /// JSON for scripts.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the access configs (and, unless --offline, that their AWS resources exist).
    #[command(after_help = "Examples:\n  aws-jit validate\n  aws-jit validate --offline -o json")]
    Validate {
        /// Skip the AWS checks.
        #[arg(long)]
        offline: bool,
    },
    /// List every setting: its variable, settings-file key, default and meaning.
    Settings,
    /// Print the JSON Schema of a config file.
    Schema {
        /// Which file's schema.
        #[arg(value_enum, default_value_t = SchemaFile::AccessConfigs)]
        file: SchemaFile,
    },
    /// List the accesses that can be requested.
    #[command(
        after_help = "Examples:\n  aws-jit accesses\n  KUBIYA_USER_EMAIL=alice@example.com aws-jit accesses -o json   # what Alice may request"
    )]
    Accesses,
    /// Grant an access to a user for a bounded time.
    #[command(
        after_help = "Examples:\n  aws-jit grant \"DB Access to Staging\" --user alice@example.com --duration 30m --reason INC-123\n  aws-jit grant prod --user alice@example.com --break-glass --reason \"INC-9 outage\""
    )]
    Grant(GrantArgs),
    /// Approve a request that waits for approval.
    Approve(DecisionArgs),
    /// Deny a request that waits for approval.
    Deny(DecisionArgs),
    /// Show what a grant would change in AWS, without changing anything.
    #[command(
        after_help = "Examples:\n  aws-jit plan read_access_to_buckets --user bob@example.com\n  aws-jit plan prod --user bob@example.com -o json"
    )]
    Plan(GrantArgs),
    /// Print the least-privilege IAM policy aws-jit's own role needs for these configs.
    IamPolicy {
        /// Look up the instance and permission-set ARNs in AWS, so that assignments are
        /// limited to the configured permission sets (offline, any permission set on the
        /// configured accounts may be assigned).
        #[arg(long)]
        resolve: bool,
    },
    /// Revoke a grant: by access and user, or by grant id.
    #[command(
        after_help = "Examples:\n  aws-jit revoke \"DB Access to Staging\" --user alice@example.com\n  aws-jit revoke --grant 0190d4c2-…"
    )]
    Revoke(RevokeArgs),
    /// Extend a live grant: by access and user, or by grant id.
    #[command(
        after_help = "Examples:\n  aws-jit extend \"DB Access to Staging\" --user alice@example.com --by 30m\n  aws-jit extend --grant 0190d4c2-…"
    )]
    Extend(ExtendArgs),
    /// List the requests waiting for approval that a person may decide.
    Approvals {
        /// Who decides (default: KUBIYA_USER_EMAIL).
        #[arg(long = "as", value_name = "EMAIL", env = "KUBIYA_USER_EMAIL")]
        approver: Option<String>,
    },
    /// List grants (live ones unless --all).
    Grants {
        /// Include ended grants.
        #[arg(long)]
        all: bool,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Only this access's (key, name or slug).
        #[arg(long)]
        access: Option<String>,
        /// Only these statuses, comma-separated (e.g. `active,pending`); implies --all for
        /// ended ones.
        #[arg(long)]
        status: Option<String>,
    },
    /// Revoke every grant past its expiry, finish or undo interrupted ones, then exit.
    Sweep,
    /// Compare live Identity Center assignments with the grants; --fix removes the drift.
    Reconcile {
        /// Remove assignments the tool made whose grants ended, and standing ones of
        /// accesses marked `managed_exclusively`.
        #[arg(long)]
        fix: bool,
    },
    /// Run the expiry worker and the HTTP endpoints until SIGTERM or Ctrl-C.
    #[command(
        after_help = "Examples:\n  aws-jit serve --listen 127.0.0.1:8080\n  AWS_JIT_DB=postgres://jit@db/jit aws-jit serve --listen 0.0.0.0:8080   # one of several replicas"
    )]
    Serve {
        /// Address to listen on.
        #[arg(long, env = "AWS_JIT_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Serve the Model Context Protocol on stdio for an agent acting for one person
    /// (KUBIYA_USER_EMAIL or --user); tools: list_accesses, request_access, list_my_grants,
    /// revoke_my_access, extend_my_access.
    Mcp {
        /// The person the agent acts for (without --server).
        #[arg(long, env = "KUBIYA_USER_EMAIL", conflicts_with = "server")]
        user: Option<String>,
        /// Go through a running `aws-jit serve` (its rules and audit apply) instead of
        /// AWS and the store directly; the person is the token's user.
        #[arg(long, env = "AWS_JIT_SERVER", requires = "token")]
        server: Option<String>,
        /// The person's API token (see `aws-jit token create`).
        #[arg(long, env = "AWS_JIT_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Agent integrations: `kubiya bundle` writes the Kubiya source.
    #[command(subcommand)]
    Kubiya(KubiyaCommand),
    /// Create, list or revoke HTTP API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Ask the access policies what-if questions, or who may request and approve an access.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print a shell completion script (e.g. `aws-jit completions bash > /etc/bash_completion.d/aws-jit`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `aws-jit man | man -l -`).
    Man,
    /// Show, export (--jsonl) or verify (`audit verify`) the audit log.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        /// `verify`: check the hash chain and name the first bad event.
        #[command(subcommand)]
        check: Option<AuditCheck>,
        /// One JSON object per line, for export (with each event's hash).
        #[arg(long)]
        jsonl: bool,
        /// Only this grant's events.
        #[arg(long)]
        grant: Option<String>,
        /// Only events about this user.
        #[arg(long)]
        user: Option<String>,
        /// Only events after this sequence number.
        #[arg(long)]
        after: Option<i64>,
        /// At most this many events, oldest first (default 100; `--jsonl` exports every
        /// event unless given).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "all")]
        limit: Option<u32>,
        /// Every event.
        #[arg(long)]
        all: bool,
    },
}

/// `aws-jit kubiya …`.
#[derive(Debug, Subcommand)]
pub enum KubiyaCommand {
    /// Write kubiya_bundle.json: a grant and a revoke tool per access (the seed's names and
    /// arguments), each running this binary in the given container image.
    Bundle {
        /// The container image holding `aws-jit` (see the Dockerfile).
        #[arg(long, default_value = concat!("aws-jit:", env!("CARGO_PKG_VERSION")))]
        image: String,
        /// Directory to write kubiya_bundle.json into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// `aws-jit policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Would the policies allow it? Prints allow or deny and the policies that decided
    /// (exit 0 when allowed, 4 when denied). Looks the person and their groups up in AWS.
    Check {
        /// Who asks (any address the directory knows them by): the person the grant is
        /// for, or the approver.
        #[arg(long = "as", value_name = "EMAIL")]
        as_person: String,
        /// request, extend, break-glass, approve or deny.
        action: String,
        /// The access (key, name or slug).
        access: String,
        /// How long (`2h`, `PT2H`); the access's maximum when absent.
        #[arg(long)]
        duration: Option<String>,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// When (RFC 3339, e.g. `2026-12-01T22:00:00Z`); now when absent.
        #[arg(long)]
        at: Option<String>,
        /// Through what: cli, api, slack, mcp, kubiya or web.
        #[arg(long, default_value = "cli")]
        channel: String,
    },
    /// Who may request and who may approve an access: the policies that could apply.
    Explain {
        /// The access (key, name or slug).
        access: String,
    },
}

/// `aws-jit token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        /// A unique name (e.g. `kubiya-agent`, `alice-laptop`).
        #[arg(long)]
        name: String,
        /// What it may do: requester (own grants), approver (also revoke and see anyone's),
        /// admin (everything).
        #[arg(long, value_parser = ["requester", "approver", "admin"])]
        role: String,
        /// The user it acts as.
        #[arg(long)]
        user: Option<String>,
        /// May act on behalf of any user (a service token, e.g. an agent's); the audit log
        /// records both the token and the user.
        #[arg(long)]
        on_behalf: bool,
    },
    /// List tokens (names, roles, users; never secrets).
    List,
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// `aws-jit audit verify`.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditCheck {
    /// Recompute the hash chain; exit 1 naming the first edited, deleted or reordered event.
    Verify {
        /// A head hash recorded earlier (outside the database): it must still be in the
        /// chain, or the log was truncated or rewritten since.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
}

/// Which schema to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFile {
    /// access_configs.json (Identity Center accesses).
    AccessConfigs,
    /// s3_configs.json (S3 accesses).
    S3Configs,
    /// policies.cedar: the Cedar schema access policies are checked against.
    Policies,
}

/// `aws-jit grant`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The access: its JSON key, its name, or its tool slug. Without it, the access the
    /// seed's variables describe (AWS_ACCOUNT_ID + PERMISSION_SET_NAME, or BUCKETS +
    /// POLICY_TEMPLATE, with MAX_DURATION as its maximum).
    pub access: Option<String>,
    /// The user's email.
    #[arg(long, visible_alias = "user-email", env = "KUBIYA_USER_EMAIL")]
    pub user: Option<String>,
    /// How long (e.g. PT1H or 1h30m); capped to the access's maximum, which is the default.
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// The duration, percent-encoded (what the Kubiya tools pass, so that a model-chosen
    /// value never reaches a shell unquoted).
    #[arg(long, hide = true, conflicts_with = "duration")]
    pub duration_urlencoded: Option<String>,
    /// Why the access is needed (recorded in the audit log).
    #[arg(long)]
    pub reason: Option<String>,
    /// The reason, percent-encoded (what the Kubiya tools pass).
    #[arg(long, hide = true, conflicts_with = "reason")]
    pub reason_urlencoded: Option<String>,
    /// Skip approval in an emergency (the access must allow it; needs --reason; the
    /// channel is alerted).
    #[arg(long)]
    pub break_glass: bool,
    /// Break-glass as a percent-encoded `true` or `false` (what the Kubiya tools pass).
    #[arg(long, hide = true, conflicts_with = "break_glass")]
    pub break_glass_urlencoded: Option<String>,
}

/// `aws-jit extend`.
#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The access whose live grant to extend (key, name or slug), for the user.
    #[arg(conflicts_with = "grant")]
    pub access: Option<String>,
    /// Whose grant (default: KUBIYA_USER_EMAIL).
    #[arg(long, visible_alias = "user-email", env = "KUBIYA_USER_EMAIL")]
    pub user: Option<String>,
    /// The grant's id.
    #[arg(long)]
    pub grant: Option<String>,
    /// How much longer (e.g. 30m); never beyond the access's maximum after the grant
    /// started, which is the default.
    #[arg(long)]
    pub by: Option<String>,
    /// How much longer, percent-encoded (what the Kubiya tools pass).
    #[arg(long, hide = true, conflicts_with = "by")]
    pub by_urlencoded: Option<String>,
}

/// `aws-jit approve` and `aws-jit deny`.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// The request's id (from `aws-jit approvals`, `aws-jit grants` or the approval
    /// message).
    #[arg(required_unless_present = "request_urlencoded")]
    pub request: Option<String>,
    /// The request's id, percent-encoded (what the Kubiya tools pass).
    #[arg(long, hide = true, conflicts_with = "request")]
    pub request_urlencoded: Option<String>,
    /// Who decides (an approver of the access; never the requester).
    #[arg(long = "as", value_name = "EMAIL", env = "KUBIYA_USER_EMAIL")]
    pub approver: Option<String>,
    /// Why (recorded in the audit log and told to the requester).
    #[arg(long)]
    pub reason: Option<String>,
    /// The reason, percent-encoded (what the Kubiya tools pass).
    #[arg(long, hide = true, conflicts_with = "reason")]
    pub reason_urlencoded: Option<String>,
}

/// `aws-jit revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The access: its JSON key, its name, or its tool slug (or, without one, the access the
    /// seed's variables describe).
    #[arg(conflicts_with = "grant")]
    pub access: Option<String>,
    /// The user whose grant to revoke (default: KUBIYA_USER_EMAIL). Revoking someone else's
    /// grant while acting for a KUBIYA_USER_EMAIL needs that person in AWS_JIT_APPROVERS.
    #[arg(long, visible_alias = "user-email")]
    pub user: Option<String>,
    /// The user, percent-encoded (what the Kubiya tools pass); empty means oneself.
    #[arg(long, hide = true, conflicts_with = "user")]
    pub user_urlencoded: Option<String>,
    /// The grant's id.
    #[arg(long)]
    pub grant: Option<String>,
}

/// The manual page, in roff, generated from this command line (`aws-jit man`; the shipped
/// `man/aws-jit.1` is this text, which a test keeps true).
pub fn man_page() -> String {
    let mut page = Vec::new();
    // The package version only: the shipped page must not change with every commit.
    let command = <Cli as clap::CommandFactory>::command().version(env!("CARGO_PKG_VERSION"));
    // Writing into memory cannot fail.
    let _ = clap_mangen::Man::new(command).render(&mut page);
    String::from_utf8_lossy(&page).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_man_page_is_the_generated_one() {
        let shipped = include_str!("../../../man/aws-jit.1");
        assert!(
            shipped == super::man_page(),
            "man/aws-jit.1 is stale: run `cargo run -p aws-jit-cli -- man > man/aws-jit.1`"
        );
    }
}
