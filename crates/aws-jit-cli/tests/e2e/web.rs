//! The web UI in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/browser/flows.mjs`), single sign-on through a real OpenID provider (npm's
//! oidc-provider, `tests/browser/oidc-provider.mjs`), axe-core on every page, and AWS
//! checked through the SDK between the phases. `scripts/setup-browser` installs what it
//! needs, and `scripts/test` points `AWS_JIT_BROWSER_TESTS` at it; without that variable the
//! test says it was skipped.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The short life of the provider's authorization codes, so that one can expire.
const CODE_TTL: &str = "2";

fn start_provider(dir: &Path, redirect: &str) -> (Running, String) {
    let mut child = Command::new("node")
        .arg(dir.join("oidc-provider.mjs"))
        .env("REDIRECT_URI", redirect)
        .env("CLIENT_SECRET", "browser-test-client-secret")
        .env("CODE_TTL", CODE_TTL)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut issuer = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut issuer)
        .unwrap();
    assert!(
        issuer.starts_with("http://127.0.0.1:"),
        "provider said {issuer:?}"
    );
    (Running(child), issuer.trim().to_owned())
}

/// Runs one phase of the browser flows; returns what it found.
fn flows(dir: &Path, phase: &str, env: &[(&str, &str)]) -> Value {
    let mut command = Command::new("node");
    command
        .arg(dir.join("flows.mjs"))
        .arg(phase)
        .current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "browser phase `{phase}` failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn refusals_with(events: &[Value], words: &str) -> usize {
    events
        .iter()
        .filter(|e| e["action"] == "web.sign_in_refused")
        .filter(|e| e["detail"].as_str().unwrap().contains(words))
        .count()
}

#[tokio::test]
async fn a_request_is_signed_in_approved_used_and_revoked_in_a_real_browser() {
    let Ok(dir) = std::env::var("AWS_JIT_BROWSER_TESTS") else {
        eprintln!("SKIPPED: AWS_JIT_BROWSER_TESTS is not set (scripts/test sets it)");
        return;
    };
    let dir = PathBuf::from(dir);
    let f = Fixture::new().await;
    let approver = format!("{}@example.com", unique("approver"));
    f.aws.create_user(&approver).await;
    let config = serde_json::json!({
        "staging_db": {
            "name": "Staging database",
            "description": "Read the staging database",
            "account_id": f.account,
            "permission_set": f.permission_set,
            "session_duration": "PT2H",
            "approvers": [approver],
            "require_reason": true,
        }
    });
    let mut tool = Tool::with_config(&f.aws, "access_configs.json", &config);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_provider, issuer) = start_provider(&dir, &format!("{base}/auth/callback"));
    for (k, v) in [
        ("AWS_JIT_OIDC_ISSUER", issuer.as_str()),
        ("AWS_JIT_OIDC_CLIENT_ID", "aws-jit"),
        ("AWS_JIT_OIDC_CLIENT_SECRET", "browser-test-client-secret"),
        ("AWS_JIT_OIDC_ALLOWED_DOMAINS", "example.com"),
        ("AWS_JIT_WEB_URL", base.as_str()),
        ("AWS_JIT_APPROVERS", approver.as_str()),
    ] {
        tool.env.push((k.to_owned(), v.to_owned()));
    }
    let _server =
        serve::start_command(tool.command(&["serve", "--listen", &format!("127.0.0.1:{port}")]));
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = std::fs::remove_dir_all(&out);
    let out_text = out.display().to_string();
    let chromium =
        std::env::var("AWS_JIT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let mut env = vec![
        ("BASE", base.as_str()),
        ("OUT", out_text.as_str()),
        ("ACCESS", "staging_db"),
        ("REQUESTER", f.email.as_str()),
        ("APPROVER", approver.as_str()),
        ("OUTSIDER", "eve@evil.example.net"),
        ("CHROMIUM", chromium.as_str()),
        ("CODE_TTL", CODE_TTL),
    ];

    // Signed in through the provider, requested, approved in a second context, active.
    let granted = flows(&dir, "grant", &env);
    assert_eq!(
        f.assignments().await,
        1,
        "AWS has the assignment: {granted}"
    );
    assert_eq!(
        granted["durations"],
        serde_json::json!(["15m", "30m", "1h", "2h"]),
        "durations stop at the access's longest"
    );
    for page in ["request", "request_form", "approvals", "active", "grants"] {
        assert!(
            granted["axe"][page].is_u64(),
            "axe ran on {page}: {granted}"
        );
    }
    let grant = granted["grant"].as_str().unwrap().to_owned();
    let callback = granted["callback"].as_str().unwrap().to_owned();

    // Revoked, audited, and every bad input refused.
    env.push(("GRANT", grant.as_str()));
    env.push(("CALLBACK", callback.as_str()));
    let ended = flows(&dir, "end", &env);
    assert_eq!(f.assignments().await, 0, "AWS no longer has it: {ended}");
    assert_eq!(ended["csrf"], serde_json::json!([403, 403]));
    let refused = &ended["refused"];
    assert_eq!(refused["wrong_state"], 400);
    assert_eq!(refused["replayed"], 400);
    assert_eq!(refused["forged"], 400);
    assert_eq!(refused["tampered_cookie"], 401);
    for shot in [
        "request",
        "request-form",
        "approvals",
        "active",
        "grants",
        "audit",
        "sign-in",
        "refused",
    ] {
        assert!(
            out.join("screenshots")
                .join(format!("{shot}.png"))
                .is_file(),
            "screenshot {shot}"
        );
    }

    // Each refusal is an audit event, and so are the sign-ins and the sign-out.
    let events: Vec<Value> = tool.json(&["audit", "--all"]).as_array().unwrap().clone();
    assert_eq!(
        refusals_with(&events, "wrong or replayed"),
        2,
        "a wrong and a replayed state"
    );
    assert_eq!(
        refusals_with(&events, "refused the sign-in code"),
        2,
        "a forged and an expired code"
    );
    assert_eq!(
        refusals_with(&events, "outside the allowed domains"),
        1,
        "the outsider"
    );
    assert!(
        refusals_with(&events, "opens no session") >= 2,
        "the tampered and the ended cookies"
    );
    let outsider = events
        .iter()
        .find(|e| e["action"] == "web.sign_in_refused" && e["user"] == "eve@evil.example.net");
    assert!(
        outsider.is_some(),
        "the outsider's refusal names who they claimed to be"
    );
    let csrf = events
        .iter()
        .filter(|e| e["action"] == "api.refused" && e["detail"].as_str().unwrap().contains("CSRF"))
        .count();
    assert_eq!(csrf, 2, "both forms without a valid CSRF token");
    let count = |action: &str| events.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("web.signed_in"), 2, "the requester and the approver");
    assert_eq!(count("web.signed_out"), 1);
    let approved = events
        .iter()
        .find(|e| e["action"] == "approval.approved" && e["grant_id"] == grant.as_str())
        .unwrap();
    assert!(
        approved["actor"].as_str().unwrap().contains(&approver),
        "{approved}"
    );
    tool.ok(&["audit", "verify"]);
}
