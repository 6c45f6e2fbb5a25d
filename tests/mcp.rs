//! `crumb mcp`, the agent's wallet, driven by the MCP SDK's own client over the real
//! process's stdio, with `crumb serve` (a metering proxy in front of a small upstream) on
//! loopback. Every result and every stderr line is scanned for the tokens involved.

use crate::common::server::{start, Server};
use crate::common::upstream::Upstream;
use crate::common::Env;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, ProtocolVersion,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The person at the host: answers approvals with `answer`, or cannot be asked (`None`).
#[derive(Clone)]
struct Person {
    answer: Option<bool>,
    version: ProtocolVersion,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let caps = match self.answer {
            Some(_) => ClientCapabilities::builder().enable_elicitation().build(),
            None => ClientCapabilities::default(),
        };
        ClientConfig::new(caps, Implementation::new("crumb-tests", "0")).with_protocol_version(self.version.clone())
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        Ok(match self.answer {
            Some(true) => ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "approve": true })),
            _ => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}

/// One agent: a data directory of its own (its wallet), and the host's configuration.
struct Agent {
    env: Env,
    args: Vec<String>,
}

impl Agent {
    fn new(server: &str, extra: &[&str]) -> Self {
        let env = Env::new();
        std::fs::create_dir_all(env.path("data")).unwrap();
        std::fs::create_dir_all(env.path("inbox")).unwrap();
        let mut args = vec!["mcp".to_owned(), "--server".to_owned(), server.to_owned()];
        args.push(format!("--import-dir={}", env.path("inbox").display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        Agent { env, args }
    }

    fn inbox(&self) -> PathBuf {
        self.env.path("inbox")
    }

    fn wallet(&self) -> PathBuf {
        self.env.path("data").join("wallet")
    }

    async fn connect(&self, person: Person) -> (RunningService<RoleClient, Person>, PathBuf) {
        let (client, stderr, _) = self.connect_with_pid(person).await;
        (client, stderr)
    }

    /// Starts `crumb mcp` and connects; also returns its process id.
    async fn connect_with_pid(&self, person: Person) -> (RunningService<RoleClient, Person>, PathBuf, u32) {
        let stderr = self.env.path(&format!("stderr-{}", rand_suffix()));
        let mut cmd = tokio::process::Command::from(self.env.process());
        cmd.args(&self.args);
        let (transport, _) =
            TokioChildProcess::builder(cmd).stderr(std::fs::File::create(&stderr).unwrap()).spawn().unwrap();
        let pid = transport.id().unwrap();
        (person.serve(transport).await.expect("the MCP session starts"), stderr, pid)
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

fn person(answer: Option<bool>) -> Person {
    Person { answer, version: ProtocolVersion::V_2026_07_28, asked: Default::default() }
}

async fn call(client: &RunningService<RoleClient, Person>, tool: &str, args: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args.as_object().unwrap().clone());
    let result = client.call_tool(params).await.unwrap_or_else(|e| panic!("{tool}: {e}"));
    // Every tool result speaks the JSON contract (README, "JSON contract").
    if let Some(doc) = &result.structured_content {
        crate::json_contract::assert_in_contract(&format!("MCP {tool}"), doc);
    }
    result
}

/// The result's structured body, and whether it is an error.
fn body(r: &CallToolResult) -> (bool, Value) {
    (r.is_error == Some(true), r.structured_content.clone().unwrap_or(Value::Null))
}

/// Every form of a token that must never reach the model: its text and its signature.
fn forms(token: &str) -> Vec<String> {
    use base64::Engine as _;
    let doc: Value = serde_json::from_str(&Env::new().ok(&["inspect", token, "--json", "--show-signature"])).unwrap();
    let sig_hex = doc["signature"].as_str().unwrap().to_owned();
    let sig = hex::decode(&sig_hex).unwrap();
    let e = base64::engine::general_purpose::STANDARD_NO_PAD;
    let u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![token.to_owned(), sig_hex, e.encode(&sig), u.encode(&sig)]
}

/// Fails if any secret form appears in `text`.
fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what} contains a token or signature ({}…)", &s[..12.min(s.len())]);
    }
}

/// Every token the wallets hold or held, in every form.
fn wallet_secrets(dirs: &[&Path], extra: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for t in extra {
        all.extend(forms(t));
    }
    for dir in dirs {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.contains('.') {
                let text = std::fs::read_to_string(e.path()).unwrap();
                all.extend(forms(text.trim()));
            }
        }
    }
    all
}

fn proxy() -> (Upstream, Server) {
    let upstream = Upstream::start();
    let server = start(&["--upstream", &upstream.url, "--price", "* /v1/=5", "--admin-listen", "127.0.0.1:0"]);
    (upstream, server)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn an_agent_pays_and_delegates_without_seeing_a_token() {
    let (upstream, server) = proxy();
    let admin = server.admin.clone().unwrap();
    let minted = server.mint(&["--balance", "100"]);
    let a = Agent::new(&admin, &[]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let b = Agent::new(&admin, &[&format!("--allow-origin={}", server.url)]);
    let mut a_args = a.args.clone();
    a_args.push(format!("--token=main={file}"));
    a_args.push(format!("--recipient=agent-b={}", b.inbox().display()));
    let a = Agent { args: a_args, ..a };
    let mut transcript = String::new();
    runtime().block_on(async {
        let (client_a, stderr_a) = a.connect(person(None)).await;
        let r = call(&client_a, "wallet_list", json!({})).await;
        transcript += &serde_json::to_string(&r).unwrap();
        let (err, doc) = body(&r);
        assert!(!err, "{doc}");
        assert_eq!(doc["entries"][0]["entry"], "main");
        assert_eq!(doc["entries"][0]["balance"], 100);

        let r = call(
            &client_a,
            "token_split",
            json!({"entry": "main", "amounts": [30], "into": ["for-b"], "request_id": "split-1"}),
        )
        .await;
        transcript += &serde_json::to_string(&r).unwrap();
        let (err, doc) = body(&r);
        assert!(!err, "{doc}");
        assert_eq!((doc["remaining"].as_u64(), doc["children"][0]["balance"].as_u64()), (Some(70), Some(30)));
        // The same request id again: the same split, not a second one.
        let r = call(
            &client_a,
            "token_split",
            json!({"entry": "main", "amounts": [30], "into": ["for-b"], "request_id": "split-1"}),
        )
        .await;
        let (err, doc) = body(&r);
        assert!(!err && doc["replayed"] == true && doc["remaining"] == 70, "{doc}");

        let r = call(&client_a, "token_handoff", json!({"entry": "for-b", "recipient": "agent-b"})).await;
        transcript += &serde_json::to_string(&r).unwrap();
        let (err, doc) = body(&r);
        assert!(!err, "{doc}");
        let handed = PathBuf::from(doc["path"].as_str().unwrap());
        assert!(handed.starts_with(b.inbox()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&handed).unwrap().permissions().mode() & 0o777, 0o600);
        let handed_token = std::fs::read_to_string(&handed).unwrap().trim().to_owned();

        let (client_b, stderr_b) = b.connect(person(None)).await;
        let file_name = handed.file_name().unwrap().to_str().unwrap();
        let r = call(&client_b, "token_receive", json!({"file": file_name, "into": "budget"})).await;
        transcript += &serde_json::to_string(&r).unwrap();
        let (err, doc) = body(&r);
        assert!(!err && doc["balance"] == 30, "{doc}");
        assert!(!handed.exists(), "the handed-in file is taken into the wallet");

        for n in 0..3 {
            let url = format!("{}/v1/answer", server.url);
            let r =
                call(&client_b, "token_fetch", json!({"entry": "budget", "url": url, "request_id": format!("q{n}")}))
                    .await;
            transcript += &serde_json::to_string(&r).unwrap();
            let (err, doc) = body(&r);
            assert!(!err, "{doc}");
            assert_eq!((doc["http_status"].as_u64(), doc["cost"].as_u64()), (Some(200), Some(5)));
            assert_eq!(doc["balance"].as_u64(), Some(25 - 5 * n));
        }
        assert_eq!(upstream.count(), 3);
        // The same request id again: answered from the journal, nothing paid.
        let url = format!("{}/v1/answer", server.url);
        let r = call(&client_b, "token_fetch", json!({"entry": "budget", "url": url, "request_id": "q2"})).await;
        let (err, doc) = body(&r);
        assert!(!err && doc["replayed"] == true && doc["balance"] == 15 && doc["cost"] == 5, "{doc}");
        assert_eq!(upstream.count(), 3, "a retry is not sent again");

        // A's lineage shows where the 30 went and B's three payments.
        let r = call(&client_a, "token_lineage", json!({"entry": "main"})).await;
        transcript += &serde_json::to_string(&r).unwrap();
        let (err, doc) = body(&r);
        assert!(!err, "{doc}");
        let text = doc.to_string();
        assert!(text.contains("\"cost\":5") || text.contains("\"spent\""), "{text}");

        client_a.cancel().await.unwrap();
        client_b.cancel().await.unwrap();
        let secrets = wallet_secrets(&[&a.wallet(), &b.wallet()], &[minted.clone(), handed_token]);
        assert_clean("the tool results", &transcript, &secrets);
        for path in [stderr_a, stderr_b] {
            assert_clean("stderr", &std::fs::read_to_string(path).unwrap(), &secrets);
        }
        for dir in [a.wallet(), b.wallet()] {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.contains('.') {
                    assert_clean(&name, &std::fs::read_to_string(e.path()).unwrap_or_default(), &secrets);
                }
            }
        }
    });
}

#[test]
fn a_model_cannot_name_a_path_an_alias_an_origin_or_a_cost_the_host_did_not_allow() {
    let (upstream, server) = proxy();
    let admin = server.admin.clone().unwrap();
    let minted = server.mint(&["--balance", "100"]);
    let outside = Env::new();
    let a = Agent::new(&admin, &[&format!("--allow-origin={}", server.url), "--max-cost=10", "--budget=12"]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let mut args = a.args.clone();
    args.push(format!("--token=main={file}"));
    args.push(format!("--recipient=friend={}", outside.dir.path().display()));
    let a = Agent { args, ..a };
    std::fs::write(outside.path("loot.token"), &minted).unwrap();
    runtime().block_on(async {
        let (client, _) = a.connect(person(None)).await;
        let refusals = [
            ("token_spend", json!({"entry": "../main", "amount": 1, "request_id": "r"}), "bad-request"),
            ("token_spend", json!({"entry": "/etc/passwd", "amount": 1, "request_id": "r"}), "bad-request"),
            ("token_spend", json!({"entry": "main", "amount": 11, "request_id": "r"}), "over-max-cost"),
            ("token_receive", json!({"file": "../../loot.token", "into": "x"}), "bad-request"),
            ("token_receive", json!({"file": outside.path("loot.token"), "into": "x"}), "bad-request"),
            ("token_handoff", json!({"entry": "main", "recipient": "stranger"}), "unknown-recipient"),
            ("token_handoff", json!({"entry": "main", "recipient": "../friend"}), "bad-request"),
            ("token_fetch", json!({"entry": "main", "url": "http://169.254.169.254/latest", "request_id": "f"}), "origin-not-allowed"),
            ("token_fetch", json!({"entry": "main", "url": format!("{}@evil.example/", server.url), "request_id": "f"}), "bad-request"),
            ("token_fetch", json!({"entry": "main", "url": format!("{}/v1/x", server.url), "request_id": "f", "headers": {"Authorization": "Bearer x"}}), "bad-request"),
            ("token_attenuate", json!({"entry": "main", "into": "x", "caveats": ["balance <= lots"]}), "bad-caveat"),
            ("token_fetch", json!({"entry": "main", "url": format!("{}/v1/x", server.url), "request_id": "f", "headers": {"X-A": "1\r\nAuthorization: Bearer x"}}), "bad-request"),
            ("token_fetch", json!({"entry": "main", "url": format!("{}.evil.example/v1/x", server.url), "request_id": "f"}), "origin-not-allowed"),
        ];
        for (tool, args, code) in refusals {
            let r = call(&client, tool, args.clone()).await;
            let (err, doc) = body(&r);
            assert!(err, "{tool} {args} was not refused: {doc}");
            assert_eq!(doc["code"], code, "{tool} {args}: {doc}");
        }
        // The budget: 12 in all. 10 is paid (once, however often it is asked), then 5 more is
        // over what is left.
        let r = call(&client, "token_spend", json!({"entry": "main", "amount": 10, "request_id": "s1"})).await;
        assert!(!body(&r).0, "{:?}", body(&r));
        let r = call(&client, "token_spend", json!({"entry": "main", "amount": 10, "request_id": "s1"})).await;
        assert_eq!((body(&r).1["replayed"].clone(), body(&r).1["remaining"].clone()), (json!(true), json!(90)), "{:?}", body(&r));
        let r = call(&client, "token_spend", json!({"entry": "main", "amount": 5, "request_id": "s2"})).await;
        assert_eq!(body(&r).1["code"], "over-budget");
        // A fetch of a route dearer than the budget left (5 > 2) is refused by the proxy
        // before anything is charged.
        let url = format!("{}/v1/answer", server.url);
        let r = call(&client, "token_fetch", json!({"entry": "main", "url": url, "request_id": "f2"})).await;
        assert_eq!(body(&r).1["code"], "over-budget", "{:?}", body(&r));
        assert_eq!(upstream.count(), 0);
        let r = call(&client, "wallet_list", json!({})).await;
        assert_eq!(body(&r).1["entries"][0]["balance"], 90);
        assert!(!outside.path("x").exists() && !a.wallet().join("x").exists());
        client.cancel().await.unwrap();
    });
}

#[test]
fn a_payment_above_the_threshold_needs_a_persons_yes() {
    let (upstream, server) = proxy();
    let admin = server.admin.clone().unwrap();
    for version in [ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25] {
        let minted = server.mint(&["--balance", "100"]);
        let a = Agent::new(&admin, &[&format!("--allow-origin={}", server.url), "--approve-above=3"]);
        let file = a.env.file("minted.token", minted.as_bytes());
        let mut args = a.args.clone();
        args.push(format!("--token=main={file}"));
        let a = Agent { args, ..a };
        runtime().block_on(async {
            let spend = |id: &str| json!({"entry": "main", "amount": 4, "request_id": id});
            // No way to ask: refused.
            let (client, _) = a.connect(Person { version: version.clone(), ..person(None) }).await;
            let r = call(&client, "token_spend", spend("s1")).await;
            assert_eq!(body(&r).1["code"], "approval-unavailable", "{version:?}: {:?}", body(&r));
            let r = call(&client, "token_spend", json!({"entry": "main", "amount": 3, "request_id": "small"})).await;
            assert!(!body(&r).0, "at the threshold no one is asked: {:?}", body(&r));
            client.cancel().await.unwrap();
            // The person declines: refused, nothing paid.
            let declining = Person { version: version.clone(), ..person(Some(false)) };
            let (client, _) = a.connect(declining.clone()).await;
            let r = call(&client, "token_spend", spend("s2")).await;
            assert_eq!(body(&r).1["code"], "approval-declined", "{version:?}");
            assert!(declining.asked.lock().unwrap()[0].contains("Pay 4 credits from wallet entry `main`"));
            client.cancel().await.unwrap();
            // The person approves: paid, and a fetch at 5 asks about its price first.
            let approving = Person { version: version.clone(), ..person(Some(true)) };
            let (client, _) = a.connect(approving.clone()).await;
            let r = call(&client, "token_spend", spend("s3")).await;
            assert_eq!(body(&r).1["remaining"], 93, "{version:?}: {:?}", body(&r));
            let url = format!("{}/v1/answer", server.url);
            let before = upstream.count();
            let r = call(&client, "token_fetch", json!({"entry": "main", "url": url, "request_id": "f1"})).await;
            assert_eq!(
                (body(&r).1["cost"].as_u64(), body(&r).1["balance"].as_u64()),
                (Some(5), Some(88)),
                "{:?}",
                body(&r)
            );
            assert_eq!(upstream.count(), before + 1);
            let asked = approving.asked.lock().unwrap().clone();
            assert!(asked.iter().any(|q| q.contains("Pay 5 credits") && q.contains("/v1/answer")), "{asked:?}");
            client.cancel().await.unwrap();
        });
    }
}

#[test]
fn the_tool_list_matches_its_snapshot_and_every_schema_is_an_object() {
    let server = start(&[]);
    let a = Agent::new(&server.url, &[]);
    runtime().block_on(async {
        for version in [ProtocolVersion::V_2026_07_28, ProtocolVersion::V_2025_11_25] {
            let (client, _) = a.connect(Person { version, ..person(None) }).await;
            let tools = client.list_all_tools().await.unwrap();
            let mut listed: Vec<Value> = tools
                .iter()
                .map(|t| {
                    let schema = serde_json::to_value(&*t.input_schema).unwrap();
                    assert_eq!(schema["type"], "object", "{}", t.name);
                    json!({ "name": t.name, "annotations": t.annotations, "input": schema["properties"].as_object().map(|p| p.keys().cloned().collect::<Vec<_>>()), "required": schema["required"] })
                })
                .collect();
            listed.sort_by_key(|t| t["name"].as_str().unwrap().to_owned());
            let snapshot: Value =
                serde_json::from_str(&std::fs::read_to_string("tests/data/mcp-tools.json").unwrap()).unwrap();
            if std::env::var_os("CRUMB_UPDATE_SNAPSHOTS").is_some() {
                std::fs::write("tests/data/mcp-tools.json", serde_json::to_string_pretty(&listed).unwrap() + "\n").unwrap();
            } else {
                assert_eq!(Value::Array(listed), snapshot, "the tool list changed: it is a contract (CRUMB_UPDATE_SNAPSHOTS=1 rewrites it)");
            }
            client.cancel().await.unwrap();
        }
    });
}

#[test]
fn a_wallet_killed_between_payment_and_reply_pays_once_when_the_call_is_retried() {
    let upstream = Upstream::start();
    let server = start(&["--upstream", &upstream.url, "--price", "* /=5", "--admin-listen", "127.0.0.1:0"]);
    let admin = server.admin.clone().unwrap();
    let minted = server.mint(&["--balance", "100"]);
    let a = Agent::new(&admin, &[&format!("--allow-origin={}", server.url)]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let mut args = a.args.clone();
    args.push(format!("--token=main={file}"));
    let a = Agent { args, ..a };
    let url = format!("{}/hang", server.url);
    let fetch = json!({"entry": "main", "url": url, "request_id": "once"});
    runtime().block_on(async {
        let (client, _, pid) = a.connect_with_pid(person(None)).await;
        let params = CallToolRequestParams::new("token_fetch").with_arguments(fetch.as_object().unwrap().clone());
        let call_in_flight = tokio::spawn(async move {
            let _ = client.call_tool(params).await;
        });
        // The upstream has the request (the proxy holds the payment): kill the wallet now.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while upstream.count() == 0 {
            assert!(std::time::Instant::now() < deadline, "the request never reached the upstream");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        unsafe_kill(pid);
        let _ = call_in_flight.await;
        // The upstream answers after 5 s; the proxy charges the delivered request.
        tokio::time::sleep(std::time::Duration::from_millis(5500)).await;
        let (client, _) = a.connect(person(None)).await;
        let r = call(&client, "token_fetch", fetch.clone()).await;
        let (_, doc) = body(&r);
        assert_eq!(doc["balance"], 95, "one payment: {doc}");
        let r = call(&client, "token_fetch", fetch.clone()).await;
        assert_eq!(body(&r).1["balance"], 95, "{:?}", body(&r));
        assert_eq!(upstream.count(), 1, "the retry was not sent upstream again");
        let r = call(&client, "wallet_list", json!({})).await;
        assert_eq!(body(&r).1["entries"][0]["balance"], 95);
        // The successor works: the next payment is from 95.
        let next = json!({"entry": "main", "url": format!("{}/v1/x", server.url), "request_id": "next"});
        let r = call(&client, "token_fetch", next).await;
        assert_eq!(body(&r).1["balance"], 90, "{:?}", body(&r));
        client.cancel().await.unwrap();
    });
}

fn unsafe_kill(pid: u32) {
    let status = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn two_wallets_racing_one_entry_never_pay_more_than_it_holds() {
    let server = start(&[]);
    let minted = server.mint(&["--balance", "100"]);
    let a = Agent::new(&server.url, &[]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let mut args = a.args.clone();
    args.push(format!("--token=main={file}"));
    let a = Agent { args, ..a };
    runtime().block_on(async {
        // Two MCP servers on one wallet directory (two host windows of one agent).
        let (one, _) = a.connect(person(None)).await;
        let (two, _) = a.connect(person(None)).await;
        let spend = |id: &str| json!({"entry": "main", "amount": 60, "request_id": id});
        let (r1, r2) = tokio::join!(call(&one, "token_spend", spend("one")), call(&two, "token_spend", spend("two")));
        let (b1, b2) = (body(&r1), body(&r2));
        let won: Vec<&(bool, Value)> = [&b1, &b2].into_iter().filter(|(err, _)| !err).collect();
        assert_eq!(won.len(), 1, "exactly one wins: {b1:?} {b2:?}");
        assert_eq!(won[0].1["remaining"], 40);
        let lost = if b1.0 { &b1.1 } else { &b2.1 };
        assert_eq!(lost["code"], "insufficient-balance", "{lost}");
        let r = call(&one, "token_check", json!({"entry": "main", "cost": 40})).await;
        assert_eq!(
            (body(&r).1["allowed"].clone(), body(&r).1["balance"].clone()),
            (json!(true), json!(40)),
            "{:?}",
            body(&r)
        );
        one.cancel().await.unwrap();
        two.cancel().await.unwrap();
    });
}

/// The Python `mcp` package as a second, independent client (`tests/clients/mcp_client.py`):
/// both protocol versions connect, every tool schema validates, and an approval is asked and
/// answered through each version's own mechanism.
#[test]
fn the_python_sdk_connects_with_both_protocol_versions() {
    let probe = std::process::Command::new("python3").args(["-c", "import mcp, jsonschema"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        crate::common::skip(
            "the Python `mcp` package is not installed (pip install mcp): the Python MCP client test did not run",
        );
        return;
    }
    let server = start(&[]);
    let minted = server.mint(&["--balance", "100"]);
    let a = Agent::new(&server.url, &["--approve-above=3"]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let crumb = assert_cmd::cargo::cargo_bin("crumb");
    let mut remaining = 100;
    for mode in ["handshake", "discover"] {
        let calls = json!([
            ["wallet_list", {}],
            ["token_spend", {"entry": "main", "amount": 5, "request_id": format!("py-{mode}")}],
            ["token_inspect", {"entry": "main"}],
        ]);
        let mut child = a
            .env
            .process_for("python3")
            .arg("tests/clients/mcp_client.py")
            .arg(mode)
            .arg(&crumb)
            .args(&a.args)
            .arg(format!("--token=main={file}"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(calls.to_string().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {stderr}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected = if mode == "handshake" { "2025-11-25" } else { "2026-07-28" };
        assert_eq!(doc["version"], expected);
        let snapshot: Value =
            serde_json::from_str(&std::fs::read_to_string("tests/data/mcp-tools.json").unwrap()).unwrap();
        let names: Vec<&str> = snapshot.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(doc["tools"], json!(names));
        remaining -= 5;
        assert_eq!(doc["calls"][1]["structured"]["remaining"], remaining, "{mode}: {doc}");
        assert_eq!(doc["calls"][2]["structured"]["balance"], remaining, "{mode}: {doc}");
        let secrets = wallet_secrets(&[&a.wallet()], std::slice::from_ref(&minted));
        assert_clean("the Python client's results", &doc.to_string(), &secrets);
        assert_clean("stderr", &stderr, &secrets);
    }
}

#[test]
fn stdout_carries_only_the_protocol_and_the_end_of_stdin_ends_the_server() {
    let env = Env::new();
    let out =
        env.process().args(["mcp", "--token=main=/nonexistent"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a token file that cannot be read stops it: {out:?}");
    assert!(out.stdout.is_empty());
    let out = env.process().args(["mcp"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "nothing but protocol messages on stdout");
}

#[test]
fn a_fetch_charged_by_usage_keeps_the_successor_out_of_the_body() {
    let upstream = Upstream::start();
    let rule = "POST /llm/sse=upto 50 prompt 3/1k completion 15/1k";
    let server = start(&["--upstream", &upstream.url, "--price", rule, "--admin-listen", "127.0.0.1:0"]);
    let minted = server.mint(&["--balance", "100"]);
    let a = Agent::new(&server.admin.clone().unwrap(), &[&format!("--allow-origin={}", server.url)]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let mut args = a.args.clone();
    args.push(format!("--token=main={file}"));
    let a = Agent { args, ..a };
    runtime().block_on(async {
        let (client, stderr) = a.connect(person(None)).await;
        let url = format!("{}/llm/sse/5/1000/1000", server.url);
        let r =
            call(&client, "token_fetch", json!({"entry": "main", "url": url, "method": "POST", "request_id": "u1"}))
                .await;
        let (err, doc) = body(&r);
        assert!(!err, "{doc}");
        // 1000 prompt at 3/1k and 1000 completion at 15/1k: 18.
        assert_eq!((doc["cost"].as_u64(), doc["balance"].as_u64()), (Some(18), Some(82)), "{doc}");
        let text = doc["body"].as_str().unwrap();
        assert!(text.contains("[DONE]") && !text.contains("crumb-receipt"), "{text}");
        let r = call(&client, "wallet_list", json!({})).await;
        assert_eq!(body(&r).1["entries"][0]["balance"], 82);
        client.cancel().await.unwrap();
        let secrets = wallet_secrets(&[&a.wallet()], std::slice::from_ref(&minted));
        assert_clean("the fetch result", &serde_json::to_string(&r).unwrap(), &secrets);
        assert_clean("the fetch body", &doc.to_string(), &secrets);
        assert_clean("stderr", &std::fs::read_to_string(stderr).unwrap(), &secrets);
    });
}
/// The issue's walk-through: A delegates a revocable 30 to B through a recipient; B pays the
/// API three times; A sees it in its lineage, revokes the delegation; B is refused `revoked`;
/// B's unspent 15 comes back to A's lineage, and every number adds up.
#[test]
fn a_delegation_is_revoked_and_its_unspent_balance_comes_back() {
    let (upstream, server) = proxy();
    let admin = server.admin.clone().unwrap();
    let minted = server.mint(&["--balance", "100"]);
    let b = Agent::new(&admin, &[&format!("--allow-origin={}", server.url)]);
    let a = Agent::new(&admin, &[&format!("--recipient=agent-b={}", b.inbox().display())]);
    let file = a.env.file("minted.token", minted.as_bytes());
    let mut args = a.args.clone();
    args.push(format!("--token=main={file}"));
    let a = Agent { args, ..a };
    runtime().block_on(async {
        let (client_a, _) = a.connect(person(None)).await;
        let split = json!({"entry": "main", "amounts": [30], "into": ["for-b"], "revocable": true, "request_id": "d1"});
        let (err, doc) = body(&call(&client_a, "token_split", split).await);
        assert!(!err, "{doc}");
        assert_eq!(doc["children"][0]["revocable"], true, "{doc}");
        let child = doc["children"][0]["nonce"].as_str().unwrap().to_owned();
        let (err, doc) =
            body(&call(&client_a, "token_handoff", json!({"entry": "for-b", "recipient": "agent-b"})).await);
        assert!(!err, "{doc}");
        let handed = PathBuf::from(doc["path"].as_str().unwrap());

        let (client_b, _) = b.connect(person(None)).await;
        let name = handed.file_name().unwrap().to_str().unwrap();
        let (err, doc) = body(&call(&client_b, "token_receive", json!({"file": name, "into": "budget"})).await);
        assert!(!err, "{doc}");
        let (_, doc) = body(&call(&client_b, "token_inspect", json!({"entry": "budget"})).await);
        assert_eq!(doc["balance"], 30);
        let (_, doc) = body(&call(&client_b, "token_status", json!({"entry": "budget"})).await);
        assert_eq!((doc["state"].as_str(), doc["revocable"].as_bool()), (Some("live"), Some(true)), "{doc}");
        let url = format!("{}/v1/answer", server.url);
        for n in 0..3 {
            let fetch = json!({"entry": "budget", "url": url, "request_id": format!("b{n}")});
            let (err, doc) = body(&call(&client_b, "token_fetch", fetch).await);
            assert!(!err && doc["cost"] == 5, "{doc}");
        }
        // A sees where its 30 went.
        let (_, doc) = body(&call(&client_a, "token_status", json!({"entry": "main"})).await);
        let delegated = &doc["delegated"][0];
        assert_eq!(
            (delegated["nonce"].as_str(), delegated["spent"].as_u64(), delegated["balance"].as_u64()),
            (Some(child.as_str()), Some(15), Some(15)),
            "{doc}"
        );
        let (err, doc) = body(&call(&client_a, "token_lineage", json!({"entry": "main"})).await);
        assert!(!err, "{doc}");
        let spends: Vec<u64> = doc["tree"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["consumed"]["kind"] == "spend")
            .map(|n| n["consumed"]["cost"].as_u64().unwrap())
            .collect();
        assert_eq!(spends, [5, 5, 5], "B's three payments are in A's lineage: {doc}");

        // A revokes; B is refused; the unspent 15 comes back.
        let (err, doc) = body(&call(&client_a, "token_revoke", json!({"entry": "main", "nonce": child})).await);
        assert!(!err, "{doc}");
        assert_eq!(doc["returned"], 15, "{doc}");
        let fetch = json!({"entry": "budget", "url": url, "request_id": "b-after"});
        let (err, doc) = body(&call(&client_b, "token_fetch", fetch).await);
        assert!(err && doc["code"] == "revoked", "{doc}");
        assert_eq!(upstream.count(), 3);
        let (_, doc) = body(&call(&client_a, "token_status", json!({"entry": "main"})).await);
        assert_eq!((doc["balance"].as_u64(), doc["returned_credit"].as_u64()), (Some(70), Some(15)), "{doc}");
        // A's next payment picks the credit up: 70 + 15 - 1.
        let (err, doc) =
            body(&call(&client_a, "token_spend", json!({"entry": "main", "amount": 1, "request_id": "a1"})).await);
        assert!(!err, "{doc}");
        assert_eq!(doc["remaining"], 84, "{doc}");
        // 100 minted = 84 A holds + 15 B paid the API + 1 A paid.
        client_a.cancel().await.unwrap();
        client_b.cancel().await.unwrap();
    });
}

/// The findings of a hostile review, each as an attack through the real binary.
#[test]
fn the_wallet_holds_against_parallel_calls_copies_collisions_and_wrong_servers() {
    let (upstream, server) = proxy();
    let admin = server.admin.clone().unwrap();
    let outside = Env::new();
    let a = Agent::new(&admin, &["--budget=10", &format!("--allow-origin={}", upstream.url)]);
    let mut args = a.args.clone();
    for n in 0..8 {
        let t = server.mint(&["--balance", "100"]);
        let file = a.env.file(&format!("t{n}.token"), t.as_bytes());
        args.push(format!("--token=e{n}={file}"));
    }
    args.push(format!("--recipient=friend={}", outside.dir.path().display()));
    let a = Agent { args, ..a };
    runtime().block_on(async {
        let (client, _) = a.connect(person(None)).await;
        // Eight spends of 3 at once under a budget of 10: at most three are paid.
        let calls = (0..8).map(|n| {
            let args = json!({"entry": format!("e{n}"), "amount": 3, "request_id": format!("p{n}")});
            call(&client, "token_spend", args)
        });
        let results = futures_util::future::join_all(calls).await;
        let paid = results.iter().filter(|r| !body(r).0).count();
        assert_eq!(paid, 3, "{:?}", results.iter().map(body).collect::<Vec<_>>());
        assert!(results.iter().filter(|r| body(r).0).all(|r| body(r).1["code"] == "over-budget"));
        // A balance cap is not a split; a copy cannot leave the wallet while its original is here.
        let r =
            call(&client, "token_attenuate", json!({"entry": "e7", "into": "gift", "caveats": ["balance <= 0"]})).await;
        assert_eq!(body(&r).1["code"], "bad-request", "{:?}", body(&r));
        let r =
            call(&client, "token_attenuate", json!({"entry": "e7", "into": "copy", "caveats": ["action = GET"]})).await;
        assert!(!body(&r).0, "{:?}", body(&r));
        let r = call(&client, "token_handoff", json!({"entry": "copy", "recipient": "friend"})).await;
        assert_eq!(body(&r).1["code"], "entry-shared", "{:?}", body(&r));
        // An origin that is not crumb's proxy gets the token (the host allowed it), but its
        // answer, which could echo the token, never reaches the model.
        let r = call(
            &client,
            "token_fetch",
            json!({"entry": "e6", "url": format!("{}/llm/nousage", upstream.url), "request_id": "f"}),
        )
        .await;
        assert_eq!(body(&r).1["code"], "not-a-crumb-proxy", "{:?}", body(&r));
        assert!(body(&r).1.get("body").is_none());
        // Framing headers are the HTTP client's.
        let url = format!("{}/v1/x", upstream.url);
        for header in ["Content-Length", "Transfer-Encoding", "Connection", "Expect"] {
            let args = json!({"entry": "e5", "url": url, "request_id": "h", "headers": {header: "5"}});
            assert_eq!(body(&call(&client, "token_fetch", args).await).1["code"], "bad-request", "{header}");
        }
        client.cancel().await.unwrap();
    });
    // A --server that is a metering proxy's public listener (not its JSON API) never gets a
    // token: a lineage GET there would have been priced, and the token spent.
    let b = Agent::new(&server.url, &[]);
    let file = b.env.file("t.token", server.mint(&["--balance", "100"]).as_bytes());
    let mut args = b.args.clone();
    args.push(format!("--token=main={file}"));
    let b = Agent { args, ..b };
    runtime().block_on(async {
        let before = upstream.count();
        let (client, _) = b.connect(person(None)).await;
        let r = call(&client, "token_lineage", json!({"entry": "main"})).await;
        assert_eq!(body(&r).1["code"], "not-crumb-api", "{:?}", body(&r));
        assert_eq!(upstream.count(), before);
        client.cancel().await.unwrap();
    });
    let status: Value =
        serde_json::from_str(&server.env.ok(&["status", "--token-file", &file, "--server", &admin, "--json"])).unwrap();
    assert_eq!(status["state"], "live", "{status}");
}

#[test]
fn split_children_are_never_lost_to_a_name_collision() {
    let server = start(&[]);
    let a = Agent::new(&server.url, &[]);
    let mut args = a.args.clone();
    for n in 0..2 {
        let t = server.mint(&["--balance", "100"]);
        let file = a.env.file(&format!("t{n}.token"), t.as_bytes());
        args.push(format!("--token=p{n}={file}"));
    }
    let a = Agent { args, ..a };
    runtime().block_on(async {
        let (client, _) = a.connect(person(None)).await;
        let split =
            |n: u32| json!({"entry": format!("p{n}"), "amounts": [30], "into": ["x"], "request_id": format!("s{n}")});
        let (r0, r1) = tokio::join!(call(&client, "token_split", split(0)), call(&client, "token_split", split(1)));
        let made: Vec<(bool, Value)> = vec![body(&r0), body(&r1)];
        // Both committed, or one refused before it committed: no child is ever overwritten.
        let r = call(&client, "wallet_list", json!({})).await;
        let entries = body(&r).1["entries"].as_array().unwrap().clone();
        let total: u64 = entries.iter().map(|e| e["balance"].as_u64().unwrap()).sum();
        assert_eq!(total, 200, "every credit is in some entry: {entries:?} {made:?}");
        client.cancel().await.unwrap();
    });
}

#[test]
fn a_wallet_cannot_revoke_itself_send_tokens_to_an_unchecked_server_or_forget_a_give_back() {
    let (upstream, server) = proxy();
    let admin = server.admin.clone().unwrap();
    let a = Agent::new(&admin, &[&format!("--allow-origin={}", server.url)]);
    let file = a.env.file("t.token", server.mint(&["--balance", "100"]).as_bytes());
    let mut args = a.args.clone();
    args.push(format!("--token=main={file}"));
    let a = Agent { args, ..a };
    runtime().block_on(async {
        let (client, _) = a.connect(person(None)).await;
        let split = json!({"entry": "main", "amounts": [30], "into": ["kid"], "revocable": true, "request_id": "s"});
        assert!(!body(&call(&client, "token_split", split).await).0);
        let (_, me) = body(&call(&client, "token_status", json!({"entry": "main"})).await);
        let own = me["nonce"].as_str().unwrap();
        let r = call(&client, "token_revoke", json!({"entry": "main", "nonce": own})).await;
        assert_eq!(body(&r).1["code"], "not-revocable", "{:?}", body(&r));
        // A paid fetch counts in what this session spent, budget or not.
        let url = format!("{}/v1/answer", server.url);
        assert!(!body(&call(&client, "token_fetch", json!({"entry": "main", "url": url, "request_id": "f"})).await).0);
        assert_eq!(body(&call(&client, "wallet_list", json!({})).await).1["spent_this_session"], 5);
        // A give-back answered, then asked again (a lost reply): the same answer.
        let back = json!({"entry": "kid", "request_id": "g1"});
        let (err, first) = body(&call(&client, "token_give_back", back.clone()).await);
        assert!(!err && first["returned"] == 30, "{first}");
        let (err, again) = body(&call(&client, "token_give_back", back).await);
        assert!(!err && again["returned"] == 30 && again["replayed"] == true, "{again}");
        client.cancel().await.unwrap();
    });
    // The proxy's public listener is not the JSON API: spends and splits are refused before
    // the token goes there.
    let b = Agent::new(&server.url, &[]);
    let file = b.env.file("t.token", server.mint(&["--balance", "100"]).as_bytes());
    let mut args = b.args.clone();
    args.push(format!("--token=main={file}"));
    let b = Agent { args, ..b };
    runtime().block_on(async {
        let (client, _) = b.connect(person(None)).await;
        let before = upstream.count();
        let r = call(&client, "token_spend", json!({"entry": "main", "amount": 1, "request_id": "x"})).await;
        assert_eq!(body(&r).1["code"], "not-crumb-api", "{:?}", body(&r));
        let r =
            call(&client, "token_split", json!({"entry": "main", "amounts": [1], "into": ["y"], "request_id": "y"}))
                .await;
        assert_eq!(body(&r).1["code"], "not-crumb-api", "{:?}", body(&r));
        assert_eq!(upstream.count(), before, "no token reached the upstream");
        client.cancel().await.unwrap();
    });
}
