//! `aws-jit serve` as a real process: the expiry worker, restarts, signals.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed when dropped.
pub(super) struct Server {
    child: Child,
    pub(super) addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn start(tool: &Tool) -> Server {
    start_command(tool.command(&["serve", "--listen", "127.0.0.1:0"]))
}

/// Starts a `serve` command (however wrapped) and waits for its "listening on" line.
pub(super) fn start_command(mut command: Command) -> Server {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Server { child, addr }
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

async fn wait_for_zero(f: &Fixture, within: Duration) -> Duration {
    let started = Instant::now();
    while f.assignments().await != 0 {
        assert!(
            started.elapsed() < within,
            "the assignment outlived its grant"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn the_server_revokes_a_grant_at_expiry_without_a_sweep() {
    let f = Fixture::new().await;
    let tool = f.tool("1s");
    let server = start(&tool);
    assert!(get(&server.addr, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(get(&server.addr, "/readyz").contains("ready"));

    let grant = tool.json(&["grant", "jit", "--user", &f.email]);
    assert_eq!(f.assignments().await, 1);
    wait_for_zero(&f, Duration::from_secs(4)).await;
    let id = grant["id"].as_str().unwrap();
    let actions = tool.audit_actions(id);
    assert_eq!(actions.last().unwrap(), "grant.expired");
    assert_eq!(terminal_count(&actions), 1);
    let ended = tool.json(&["grants", "--all"])[0]["ended_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended: jiff::Timestamp = ended.parse().unwrap();
    let expires: jiff::Timestamp = grant["expires_at"].as_str().unwrap().parse().unwrap();
    // Whole-second printing: within two seconds of the expiry, never before it.
    let late = ended.duration_since(expires).as_secs();
    assert!((0..=2).contains(&late), "revoked {late}s after expiry");

    let metrics = get(&server.addr, "/metrics");
    for line in [
        "aws_jit_grants{status=\"expired\"} 1",
        "aws_jit_revocations_total{outcome=\"expired\"} 1",
        "aws_jit_revocation_lateness_seconds_count 1",
        "aws_jit_aws_calls_total{operation=\"SSO Admin.DeleteAccountAssignment\",outcome=\"ok\"} 1",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }
}

#[tokio::test]
async fn a_grant_that_expires_while_the_server_is_down_is_revoked_promptly_after_restart() {
    let f = Fixture::new().await;
    let tool = f.tool("1s");
    let server = start(&tool);
    tool.json(&["grant", "jit", "--user", &f.email]);
    drop(server); // kill -9
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(
        f.assignments().await,
        1,
        "nobody revoked it while the server was down"
    );
    let _server = start(&tool);
    wait_for_zero(&f, Duration::from_secs(3)).await;
}

/// One HTTP request; returns the status and the JSON body.
pub(super) fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, payload) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_str(payload).unwrap_or_else(|_| panic!("not JSON: {response}"));
    (status, json)
}

pub(super) fn token(tool: &Tool, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend(args);
    tool.json(&all)["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_api_grants_extends_and_revokes_for_the_token_holder_and_refuses_the_rest() {
    let f = Fixture::new().await;
    let bob = format!("{}@example.com", unique("bob"));
    let bob_id = f.aws.create_user(&bob).await;
    let tool = f.tool("1h");
    let alice = token(
        &tool,
        &["--name", "alice", "--role", "requester", "--user", &f.email],
    );
    let bobs = token(
        &tool,
        &["--name", "bob", "--role", "requester", "--user", &bob],
    );
    let approver = token(
        &tool,
        &[
            "--name",
            "lead",
            "--role",
            "approver",
            "--user",
            "lead@example.com",
        ],
    );
    let agent = token(
        &tool,
        &["--name", "agent", "--role", "requester", "--on-behalf"],
    );
    let server = start(&tool);
    let addr = server.addr.as_str();

    // Authentication.
    let (status, body) = call(addr, "GET", "/api/v1/accesses", None, None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    // The same id with a different last secret digit.
    let last = if alice.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &alice[..alice.len() - 1]);
    assert_eq!(
        call(addr, "GET", "/api/v1/accesses", Some(&forged), None).0,
        401
    );
    let (status, accesses) = call(addr, "GET", "/api/v1/accesses", Some(&alice), None);
    assert_eq!(status, 200);
    assert_eq!(accesses["items"][0]["key"], "jit");

    // Requesting: for oneself, or on behalf with the right.
    let (status, mine) = call(
        addr,
        "POST",
        "/api/v1/grants",
        Some(&alice),
        Some(r#"{"access": "jit", "duration": "30m", "reason": "incident 42"}"#),
    );
    assert_eq!(status, 201, "{mine}");
    assert_eq!(
        (mine["status"].as_str(), mine["user"].as_str()),
        (Some("active"), Some(f.email.as_str()))
    );
    assert_eq!(f.assignments().await, 1);
    let for_bob = format!(r#"{{"access": "jit", "user": "{bob}"}}"#);
    let (status, body) = call(addr, "POST", "/api/v1/grants", Some(&alice), Some(&for_bob));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, bobs_grant) = call(addr, "POST", "/api/v1/grants", Some(&agent), Some(&for_bob));
    assert_eq!(status, 201, "{bobs_grant}");
    assert_eq!(
        bobs_grant["requested_by"],
        format!("token agent on behalf of {bob}")
    );
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &bob_id)
            .await,
        1
    );
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/v1/grants",
            Some(&agent),
            Some(r#"{"access": "jit"}"#)
        )
        .0,
        400
    );
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/v1/grants",
            Some(&alice),
            Some(r#"{"access": "jit", "extra": 1}"#)
        )
        .0,
        400
    );
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/v1/grants",
            Some(&alice),
            Some("{not json")
        )
        .0,
        400
    );
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/v1/grants",
            Some(&alice),
            Some(r#"{"access": "nope"}"#)
        )
        .0,
        404
    );

    // Reading: one's own, or everyone's for an approver, a page at a time.
    let (_, list) = call(addr, "GET", "/api/v1/grants", Some(&alice), None);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let bob_path = format!("/api/v1/grants/{}", bobs_grant["id"].as_str().unwrap());
    // Someone else's grant is not even said to exist.
    assert_eq!(call(addr, "GET", &bob_path, Some(&alice), None).0, 404);
    assert_eq!(call(addr, "GET", &bob_path, Some(&bobs), None).0, 200);
    assert_eq!(
        call(
            addr,
            "GET",
            &format!("/api/v1/grants?user={bob}"),
            Some(&alice),
            None
        )
        .0,
        403
    );
    let (_, first) = call(addr, "GET", "/api/v1/grants?limit=1", Some(&approver), None);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = call(
        addr,
        "GET",
        &format!("/api/v1/grants?limit=1&cursor={cursor}"),
        Some(&approver),
        None,
    );
    let (_, third) = call(
        addr,
        "GET",
        &format!(
            "/api/v1/grants?limit=1&cursor={}",
            second["next_cursor"].as_str().unwrap()
        ),
        Some(&approver),
        None,
    );
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert!(third["items"].as_array().unwrap().is_empty(), "{third}");
    assert_eq!(
        call(addr, "GET", "/api/v1/grants?limit=0", Some(&approver), None).0,
        400
    );

    // Extending: within the access's maximum only.
    let mine_path = format!("/api/v1/grants/{}", mine["id"].as_str().unwrap());
    let stamp = |v: &Value, k: &str| v[k].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let (status, longer) = call(
        addr,
        "POST",
        &format!("{mine_path}/extend"),
        Some(&alice),
        Some(r#"{"duration": "20m"}"#),
    );
    assert_eq!(status, 200, "{longer}");
    assert_eq!(
        stamp(&longer, "expires_at")
            .duration_since(stamp(&mine, "expires_at"))
            .as_secs(),
        1_200
    );
    let (status, capped) = call(
        addr,
        "POST",
        &format!("{mine_path}/extend"),
        Some(&alice),
        Some("{}"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        stamp(&capped, "expires_at")
            .duration_since(stamp(&mine, "granted_at"))
            .as_secs(),
        3_600
    );
    assert_eq!(
        call(
            addr,
            "POST",
            &format!("{mine_path}/extend"),
            Some(&alice),
            Some("{}")
        )
        .0,
        409
    );
    assert_eq!(
        call(
            addr,
            "POST",
            &format!("{bob_path}/extend"),
            Some(&alice),
            Some("{}")
        )
        .0,
        404,
        "someone else's grant is not said to exist"
    );

    // Revoking someone else's needs an approver (to the requester, it does not exist).
    assert_eq!(
        call(
            addr,
            "POST",
            &format!("{bob_path}/revoke"),
            Some(&alice),
            None
        )
        .0,
        404
    );
    let (status, revoked) = call(
        addr,
        "POST",
        &format!("{bob_path}/revoke"),
        Some(&approver),
        None,
    );
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    assert_eq!(
        f.aws
            .assignments(&f.account, &f.permission_set_arn, &bob_id)
            .await,
        0
    );
    let (status, _) = call(
        addr,
        "POST",
        &format!("{mine_path}/revoke"),
        Some(&alice),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(f.assignments().await, 0);
    assert_eq!(
        call(
            addr,
            "POST",
            &format!("{mine_path}/revoke"),
            Some(&alice),
            None
        )
        .0,
        409
    );

    // The audit log: one's own events, or all of them for an approver, with refusals.
    let (_, own) = call(addr, "GET", "/api/v1/audit", Some(&alice), None);
    let own = own["items"].as_array().unwrap();
    assert!(own.iter().all(|e| e["user"] == f.email.as_str()), "{own:?}");
    assert!(own.iter().any(|e| e["action"] == "grant.extended"));
    assert_eq!(
        call(
            addr,
            "GET",
            &format!("/api/v1/audit?user={bob}"),
            Some(&alice),
            None
        )
        .0,
        403
    );
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = call(
            addr,
            "GET",
            &format!("/api/v1/audit?limit=7&after={after}"),
            Some(&approver),
            None,
        );
        assert_eq!(status, 200);
        events.extend(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    let refusals = events.iter().filter(|e| is_refusal(e)).count();
    assert_eq!(refusals, 8, "two 401s and six 403s are audited");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "pages overlap or skip"
    );
    assert!(
        events
            .iter()
            .any(|e| e["actor"] == format!("token agent on behalf of {bob}"))
    );

    // A revoked token is refused; no token secret ever reached the audit log.
    tool.ok(&["token", "revoke", "alice"]);
    assert_eq!(
        call(addr, "GET", "/api/v1/accesses", Some(&alice), None).0,
        401
    );
    let log = tool.ok(&["audit", "--jsonl"]);
    for secret in [&alice, &bobs, &approver, &agent] {
        assert!(!log.contains(secret.rsplit('_').next().unwrap()));
    }
}

/// The bad-request corpus (`tests/fixtures/bad-input/api`): each body is refused with
/// the status and error its `.expect` names, plus generated oversize and deep bodies;
/// nothing reaches AWS or the store.
#[tokio::test]
async fn the_bad_request_corpus_is_refused_and_changes_nothing() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let alice = token(
        &tool,
        &["--name", "alice", "--role", "requester", "--user", &f.email],
    );
    let server = start(&tool);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad-input/api");
    let mut cases: Vec<(String, String, u16, String)> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "body"))
        .collect();
    names.sort();
    for path in names {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let expect = std::fs::read_to_string(path.with_extension("expect")).unwrap();
        let mut lines = expect.lines();
        let status = lines.next().unwrap().trim().parse().unwrap();
        let text = lines.next().unwrap_or("").trim().to_owned();
        let body = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        cases.push((name, body, status, text));
    }
    assert!(cases.len() >= 6, "the corpus went missing");
    let deep = format!(
        r#"{{"access": "jit", "reason": {}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    cases.push((
        "deep-nesting".to_owned(),
        deep,
        400,
        "invalid type".to_owned(),
    ));
    for (name, body, status, text) in cases {
        let (got, json) = call(
            &server.addr,
            "POST",
            "/api/v1/grants",
            Some(&alice),
            Some(&body),
        );
        assert_eq!(got, status, "{name}: {json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&text),
            "{name}: expected `{text}` in `{message}`"
        );
    }
    // A body over the limit is refused before it is read.
    let huge = format!(
        r#"{{"access": "jit", "reason": "{}"}}"#,
        "x".repeat(3_000_000)
    );
    let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /api/v1/grants HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        huge.len()
    )
    .unwrap();
    let _ = stream.write_all(huge.as_bytes());
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "{}",
        &response[..response.len().min(200)]
    );
    assert_eq!(f.assignments().await, 0);
    assert!(
        tool.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn two_replicas_on_postgres_expire_each_grant_exactly_once() {
    let Some(schema) = aws_jit_testkit::PgSchema::create().await else {
        eprintln!("skipped: AWS_JIT_TEST_PG is not set");
        return;
    };
    let aws = MotoAws::connect().await;
    let account = unique_account();
    let permission_set = unique("PS");
    let permission_set_arn = aws.create_permission_set(&permission_set).await;
    let mut tool = Tool::with_access(&aws, &account, &permission_set, "3s");
    tool.db_url = Some(schema.url.clone());
    let _replicas = [start(&tool), start(&tool)];
    let mut users = Vec::new();
    for _ in 0..12 {
        let email = format!("{}@example.com", unique("user"));
        let id = aws.create_user(&email).await;
        tool.json(&["grant", "jit", "--user", &email]);
        users.push(id);
    }
    let started = Instant::now();
    for user in &users {
        while aws.assignments(&account, &permission_set_arn, user).await != 0 {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "an assignment outlived its grant"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let grants = tool.json(&["grants", "--all"]);
    let grants = grants.as_array().unwrap();
    assert_eq!(grants.len(), 12);
    for grant in grants {
        assert_eq!(grant["status"], "expired", "{grant}");
        let actions = tool.audit_actions(grant["id"].as_str().unwrap());
        assert_eq!(terminal_count(&actions), 1, "{actions:?}");
        assert_eq!(actions.last().unwrap(), "grant.expired");
        let starts = actions
            .iter()
            .filter(|a| *a == "grant.revoke_started")
            .count();
        assert_eq!(starts, 1, "{actions:?}");
    }
    let verified = tool.ok(&["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let f = Fixture::new().await;
    let tool = f.tool("1h");
    let mut server = start(&tool);
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
