//! The JSON contract (issue 16 §3): one name, one meaning, one JSON type for each field, in
//! every command's `--json`, every HTTP body, every MCP tool result and every error. `tests/data/json_contract.tsv`
//! lists each field; README's "JSON contract" table is rendered from it (checked here;
//! `CRUMB_UPDATE_README=1` rewrites it). This walks every `--json` command and every route
//! through the real binary and a real `crumb serve`, and refuses any field, at any depth, that
//! the contract does not list, or whose JSON type is not the listed one. The MCP tests pass
//! every tool result through [`assert_in_contract`].

use crate::common::http::send;
use crate::common::server::{start, Server};
use crate::common::upstream::{Upstream, PRICES};
use crate::common::Env;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One row of the contract.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    field: String,
    /// JSON types, `|`-separated: `string`, `integer`, `number`, `boolean`, `null`, `object`,
    /// `array`.
    types: Vec<String>,
    meaning: String,
    place: String,
}

fn contract_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/json_contract.tsv")
}

const TYPES: &[&str] = &["string", "integer", "number", "boolean", "null", "object", "array"];

/// The contract: field → row. A field is `name`, `parent.name` (the name inside an object
/// that is the value, or an item of the value, of `parent`: where a standard or an older
/// shape fixes a second meaning) or `problem:name` (a member of an RFC 9457 problem, whose
/// names the RFC fixes).
fn contract() -> BTreeMap<String, Row> {
    let text = std::fs::read_to_string(contract_path()).expect("tests/data/json_contract.tsv");
    let mut rows = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "json_contract.tsv line {}: four tab-separated columns: {line:?}", n + 1);
        let types: Vec<String> = cols[1].split('|').map(|t| t.trim().to_owned()).collect();
        for t in &types {
            assert!(TYPES.contains(&t.as_str()), "json_contract.tsv line {}: unknown type {t:?}", n + 1);
        }
        let row = Row { field: cols[0].to_owned(), types, meaning: cols[2].to_owned(), place: cols[3].to_owned() };
        assert!(rows.insert(cols[0].to_owned(), row).is_none(), "json_contract.tsv: {} listed twice", cols[0]);
    }
    rows
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Walks documents against the contract and keeps what does not match.
struct Checker {
    rows: BTreeMap<String, Row>,
    violations: Vec<String>,
    seen: BTreeSet<String>,
    documents: usize,
}

impl Checker {
    fn new(rows: BTreeMap<String, Row>) -> Self {
        Checker { rows, violations: Vec::new(), seen: BTreeSet::new(), documents: 0 }
    }

    /// A JSON body or `--json` document.
    fn check(&mut self, source: &str, doc: &Value) {
        assert!(doc.is_object(), "{source}: a JSON document is an object: {doc}");
        self.documents += 1;
        self.walk(source, doc, "", "$", false);
    }

    /// An RFC 9457 problem (`application/problem+json`).
    fn check_problem(&mut self, source: &str, doc: &Value) {
        assert!(doc.is_object(), "{source}: a problem is an object: {doc}");
        self.documents += 1;
        self.walk(source, doc, "", "$", true);
    }

    fn walk(&mut self, source: &str, v: &Value, parent: &str, path: &str, problem: bool) {
        match v {
            Value::Object(map) => {
                for (name, value) in map {
                    let at = format!("{path}.{name}");
                    let keys = [
                        problem.then(|| format!("problem:{name}")),
                        (!parent.is_empty()).then(|| format!("{parent}.{name}")),
                        Some(name.clone()),
                    ];
                    let Some(key) = keys.into_iter().flatten().find(|k| self.rows.contains_key(k)) else {
                        self.violations.push(format!(
                            "{source}: {at}: `{name}` ({}) is not in the JSON contract",
                            json_type(value)
                        ));
                        continue;
                    };
                    let row = &self.rows[&key];
                    if !row.types.iter().any(|t| t == json_type(value)) {
                        self.violations.push(format!(
                            "{source}: {at}: `{key}` is {} here, the contract says {}",
                            json_type(value),
                            row.types.join("|")
                        ));
                    }
                    self.seen.insert(key);
                    self.walk(source, value, name, &at, false);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(source, item, parent, &format!("{path}[{i}]"), false);
                }
            }
            _ => {}
        }
    }
}

/// Checks one document (an MCP tool's result) against the contract: panics with every field
/// outside it. The MCP tests pass every tool result through this.
pub(crate) fn assert_in_contract(source: &str, doc: &Value) {
    let mut checker = Checker::new(contract());
    checker.walk(source, doc, "", "$", false);
    if std::env::var_os("CRUMB_CONTRACT_REPORT").is_some() {
        for v in &checker.violations {
            eprintln!("CONTRACT: {v}");
        }
        return;
    }
    assert!(checker.violations.is_empty(), "outside the JSON contract:\n{}", checker.violations.join("\n"));
}

/// The README's "JSON contract" table, as rendered from the contract.
fn render_table(rows: &BTreeMap<String, Row>) -> String {
    let mut out = String::from("| field | JSON type | meaning | where |\n| --- | --- | --- | --- |\n");
    for row in rows.values() {
        let types = row.types.join(" \\| ");
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", row.field, types, row.meaning, row.place));
    }
    out
}

const TABLE_START: &str = "<!-- json-contract: generated from tests/data/json_contract.tsv -->\n";
const TABLE_END: &str = "<!-- /json-contract -->";

#[test]
fn the_readme_table_is_the_contract() {
    let rows = contract();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme.find(TABLE_START).expect("README has the JSON contract table") + TABLE_START.len();
    let end = start + readme[start..].find(TABLE_END).expect("the table ends");
    let table = render_table(&rows);
    if std::env::var_os("CRUMB_UPDATE_README").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
        return;
    }
    let differs = readme[start..end].lines().zip(table.lines()).find(|(a, b)| a != b);
    assert!(
        readme[start..end] == table,
        "README's JSON contract table differs from tests/data/json_contract.tsv (first: {differs:?}; \
         `CRUMB_UPDATE_README=1 cargo test --test tests json_contract` rewrites it)"
    );
}

#[test]
fn the_checker_refuses_unknown_fields_and_wrong_types() {
    let mut checker = Checker::new(contract());
    checker.check("good", &json!({ "code": "spent", "message": "m", "exit": 1, "allowed": false }));
    assert!(checker.violations.is_empty(), "{:?}", checker.violations);
    checker.check("unknown", &json!({ "code": "spent", "mesage": "m" }));
    checker.check("nested unknown", &json!({ "tree": [{ "nonce": "n", "spnet": null }] }));
    checker.check("wrong type", &json!({ "caveats": 3 }));
    checker.check("wrong type inside", &json!({ "children": [{ "balance": "5" }] }));
    // `status` is a number only in a problem (RFC 9457 fixes it).
    checker.check("status", &json!({ "status": 503 }));
    checker.check_problem("problem", &json!({ "status": 503, "code": "x" }));
    assert_eq!(checker.violations.len(), 5, "{:#?}", checker.violations);
    for (v, what) in checker.violations.iter().zip(["mesage", "spnet", "caveats", "balance", "status"]) {
        assert!(v.contains(what), "{v}");
    }
}

/// Runs `crumb ARGS` (with `--json`): stdout must be one JSON document and the exit `exit`.
fn cli(env: &Env, checker: &mut Checker, args: &[&str], exit: i32) -> Value {
    let (code, out, err) = env.run(args);
    let flags: Vec<&str> = args.iter().skip(1).filter(|a| a.starts_with("--")).cloned().collect();
    let source = format!("crumb {} {}", args[0], flags.join(" "));
    assert_eq!(code, exit, "{args:?}: exit {code}: {out} / {err}");
    let doc: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document ({e}): {out}"));
    checker.check(&source, &doc);
    doc
}

/// One HTTP exchange: the status must be `status`; the body is checked as JSON, or as a
/// problem when its content type says so.
fn http(
    checker: &mut Checker,
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
    status: u16,
) -> Value {
    http_with(checker, server, method, path, token, &[], body, status)
}

#[allow(clippy::too_many_arguments)]
fn http_with(
    checker: &mut Checker,
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &Value,
    status: u16,
) -> Value {
    let text = if body.is_null() { String::new() } else { body.to_string() };
    let answer = send(method, &format!("{}{path}", server.url), token, headers, &text);
    assert_eq!(answer.status, status, "{method} {path}: {answer:?}");
    let doc: Value =
        serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {answer:?}"));
    let source = format!("{method} {path} ({status})");
    if answer.header("content-type").is_some_and(|t| t.starts_with("application/problem+json")) {
        checker.check_problem(&source, &doc);
    } else {
        checker.check(&source, &doc);
    }
    doc
}

fn text<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {doc}"))
}

/// Every command with `--json`, locally: successes, denials and failures.
fn walk_cli(checker: &mut Checker) {
    let env = Env::new();
    let key = env.key("k");
    let ledger = env.path("l.db");
    let l = ledger.to_str().unwrap();
    let ring = env.path("ring.json");
    let ring = ring.to_str().unwrap();
    let k2 = env.path("k2");
    cli(&env, checker, &["keygen", "--out", k2.to_str().unwrap(), "--json"], 0);
    cli(&env, checker, &["keygen", "--keyring", ring, "--json"], 0);
    cli(&env, checker, &["keygen", "--keyring", ring, "--json"], 0);
    cli(&env, checker, &["keygen", "--keyring", ring, "--list", "--json"], 0);
    cli(&env, checker, &["keygen", "--keyring", "/nonexistent/ring", "--list", "--json"], 2);
    cli(&env, checker, &["ledger", "init", "--ledger", l, "--json"], 0);
    let minted = cli(
        &env,
        checker,
        &["mint", "--key-file", &key, "--balance", "10", "-c", "action = read", "--expires-in", "1h", "--json"],
        0,
    );
    let token = text(&minted, "/token").to_owned();
    cli(&env, checker, &["mint", "--key-file", "/nonexistent.key", "--json"], 2);
    cli(&env, checker, &["attenuate", &token, "--balance", "8", "--json"], 0);
    let discharge = cli(&env, checker, &["discharge", "--key-file", &key, "--id", "user = bob", "--json"], 0);
    cli(&env, checker, &["bind", &token, text(&discharge, "/token"), "--json"], 0);
    cli(&env, checker, &["inspect", &token, "--json"], 0);
    cli(&env, checker, &["inspect", &token, "--key-file", &key, "--show-signature", "--json"], 0);
    cli(&env, checker, &["inspect", text(&discharge, "/token"), "--json"], 0);
    cli(&env, checker, &["inspect", "garbage!", "--json"], 2);
    let request = ["--action", "read"];
    cli(&env, checker, &[&["verify", &token, "--key-file", &key, "--offline", "--json"], &request[..]].concat(), 0);
    cli(&env, checker, &["verify", &token, "--key-file", &key, "--offline", "--action", "write", "--json"], 1);
    cli(&env, checker, &["verify", "!!!", "--key-file", &key, "--json"], 2);
    cli(&env, checker, &["verify", &token, "--key-file", &key, "--ledger", "/nonexistent/l.db", "--json"], 3);
    let spend = ["spend", &token, "--key-file", &key, "--ledger", l, "--cost", "1", "--json"];
    let receipt = cli(&env, checker, &[&spend[..], &request[..]].concat(), 0);
    cli(&env, checker, &[&spend[..], &request[..], &["--request-id", "again"]].concat(), 1);
    let successor = text(&receipt, "/token").to_owned();
    let over = ["spend", &successor, "--key-file", &key, "--ledger", l, "--cost", "100", "--json"];
    cli(&env, checker, &[&over[..], &request[..]].concat(), 1);
    cli(&env, checker, &["verify", &successor, "--key-file", &key, "--ledger", l, "--action", "read", "--json"], 0);
    let split = cli(
        &env,
        checker,
        &["split", &successor, "--key-file", &key, "--ledger", l, "--amount", "3", "--revocable", "--json"],
        0,
    );
    let (child, remainder) =
        (text(&split, "/children/0/token").to_owned(), text(&split, "/children/1/token").to_owned());
    cli(&env, checker, &["status", &remainder, "--key-file", &key, "--ledger", l, "--json"], 0);
    cli(&env, checker, &["status", &child, "--key-file", &key, "--ledger", l, "--json"], 0);
    cli(&env, checker, &["lineage", &token, "--ledger", l, "--json"], 0);
    cli(&env, checker, &["lineage", "--nonce", "00000000000000000000000000000000", "--ledger", l, "--json"], 2);
    cli(&env, checker, &["give-back", &child, "--key-file", &key, "--ledger", l, "--json"], 0);
    let head = text(&split, "/children/1/nonce").to_owned();
    let top_up = ["top-up", "--nonce", &head, "--amount", "2", "--request-id", "t1", "--ledger", l, "--json"];
    cli(&env, checker, &top_up, 0);
    // The top-up's credit comes back in the next receipt (`returned_credit`).
    let with_credit = ["spend", &remainder, "--key-file", &key, "--ledger", l, "--cost", "1", "--json"];
    let receipt = cli(&env, checker, &[&with_credit[..], &request[..]].concat(), 0);
    assert!(receipt["returned_credit"].is_u64(), "{receipt}");
    cli(&env, checker, &["lineage", &token, "--ledger", l, "--json"], 0);
    cli(&env, checker, &["revoke", text(&receipt, "/token"), "--ledger", l, "--json"], 0);
    cli(&env, checker, &["revoke", &token, "--ledger", l, "--cascade", "--json"], 0);
    // A token with a `spend-rate` window: `status` lists it.
    let windowed = cli(
        &env,
        checker,
        &["mint", "--key-file", &key, "--balance", "10", "-c", "spend-rate <= 5/1h", "--expires-in", "1h", "--json"],
        0,
    );
    let windowed = text(&windowed, "/token").to_owned();
    let paid = cli(&env, checker, &["spend", &windowed, "--key-file", &key, "--ledger", l, "--cost", "2", "--json"], 0);
    let status = cli(&env, checker, &["status", text(&paid, "/token"), "--key-file", &key, "--ledger", l, "--json"], 0);
    assert_eq!(status["windows"][0]["left"], 3, "{status}");
    cli(&env, checker, &["doctor", "--key-file", &key, "--ledger", l, "--json"], 0);
}

/// Every route of the JSON API, and forward auth, and the CLI against the server.
fn walk_server(checker: &mut Checker) {
    let server = start(&["--price", "POST /v1/chat=5"]);
    let mint = |args: &[&str]| server.mint(args);
    let token = mint(&["--balance", "20", "-c", "action = read", "--expires-in", "1h"]);
    let operator = mint(&["--operator", "--expires-in", "10m"]);
    let read = json!({ "token": token, "action": "read" });
    // Verify: allowed, explained, denied; the errors.
    http(checker, &server, "POST", "/v1/verify", None, &read, 200);
    http(
        checker,
        &server,
        "POST",
        "/v1/verify",
        None,
        &json!({ "token": token, "action": "read", "explain": true }),
        200,
    );
    http(checker, &server, "POST", "/v1/verify", None, &json!({ "token": token, "action": "write" }), 403);
    let bad = send("POST", &format!("{}/v1/verify", server.url), None, &[], "{\"token\":");
    assert_eq!(bad.status, 400);
    checker.check("POST /v1/verify (400)", &bad.json());
    http(checker, &server, "POST", "/v1/verify", None, &json!({}), 401);
    http(checker, &server, "POST", "/v1/verify", None, &json!({ "token": "garbage!" }), 400);
    // Spend, split, status, lineage, give-back, top-up, revoke.
    let spend = json!({ "token": token, "action": "read", "cost": 2, "request_id": "r1" });
    let receipt = http(checker, &server, "POST", "/v1/spend", None, &spend, 200);
    let again = json!({ "token": token, "action": "read", "cost": 2, "request_id": "r2" });
    http(checker, &server, "POST", "/v1/spend", None, &again, 409);
    let successor = text(&receipt, "/token").to_owned();
    let over = json!({ "token": successor, "action": "read", "cost": 100, "request_id": "r3" });
    http(checker, &server, "POST", "/v1/spend", None, &over, 402);
    let split = json!({ "token": successor, "amounts": [4, 3], "revocable": true, "request_id": "s1" });
    let split = http(checker, &server, "POST", "/v1/split", None, &split, 200);
    let child = text(&split, "/children/0/token").to_owned();
    let other = text(&split, "/children/1/token").to_owned();
    let remainder = text(&split, "/children/2/token").to_owned();
    http(checker, &server, "GET", "/v1/status", Some(&remainder), &Value::Null, 200);
    http(checker, &server, "GET", "/v1/status", Some(&child), &Value::Null, 200);
    http(checker, &server, "GET", "/v1/lineage", Some(&remainder), &Value::Null, 200);
    let root = text(&receipt, "/parent").to_owned();
    http(checker, &server, "GET", &format!("/v1/lineage/{root}"), Some(&operator), &Value::Null, 200);
    let unseen = "/v1/lineage/00000000000000000000000000000000";
    http(checker, &server, "GET", unseen, Some(&operator), &Value::Null, 404);
    http(checker, &server, "POST", "/v1/give-back", None, &json!({ "token": child, "request_id": "g1" }), 200);
    let head = text(&split, "/children/2/nonce").to_owned();
    let top_up = json!({ "credential": operator, "nonce": head, "amount": 2, "request_id": "t1" });
    http(checker, &server, "POST", "/v1/top-up", None, &top_up, 200);
    http(checker, &server, "POST", "/v1/top-up", None, &top_up, 200);
    let other_nonce = text(&split, "/children/1/nonce").to_owned();
    let delegation = json!({ "token": remainder, "nonce": other_nonce });
    http(checker, &server, "POST", "/v1/revoke", None, &delegation, 200);
    http(checker, &server, "POST", "/v1/revoke", None, &json!({ "token": other }), 403);
    let cascade = json!({ "token": operator, "nonce": root, "cascade": true });
    http(checker, &server, "POST", "/v1/revoke", None, &cascade, 200);
    // Probes.
    http(checker, &server, "GET", "/healthz", None, &Value::Null, 200);
    http(checker, &server, "GET", "/readyz", None, &Value::Null, 200);
    // Forward auth: allowed, payment needed, refused by a caveat; RFC 9457 problems.
    let payer = mint(&["--balance", "20", "-c", "action = POST", "--expires-in", "1h"]);
    let original = [("X-Original-Method", "POST"), ("X-Original-URI", "/v1/chat")];
    http_with(checker, &server, "GET", "/v1/authz", Some(&payer), &original, &Value::Null, 200);
    http_with(checker, &server, "GET", "/v1/authz", None, &original, &Value::Null, 401);
    let poor = mint(&["--balance", "2", "--expires-in", "1h"]);
    http_with(checker, &server, "GET", "/v1/authz", Some(&poor), &original, &Value::Null, 401);
    let reader = mint(&["--balance", "20", "-c", "action = GET", "--expires-in", "1h"]);
    http_with(checker, &server, "GET", "/v1/authz", Some(&reader), &original, &Value::Null, 403);
    http_with(checker, &server, "GET", "/v1/authz", Some(&payer), &[], &Value::Null, 400);
    // The CLI against the server.
    let env = &server.env;
    let url = server.url.as_str();
    let fresh = mint(&["--balance", "20", "-c", "action = read", "--expires-in", "1h"]);
    // The server's verdict is printed whole, through the same type as a local one.
    let local =
        cli(env, checker, &["verify", &fresh, "--key-file", &server.key, "--offline", "--action", "read", "--json"], 0);
    let remote = cli(env, checker, &["verify", &fresh, "--server", url, "--action", "read", "--json"], 0);
    let names = |doc: &Value| doc.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&remote), names(&local), "{remote}");
    let denied = cli(env, checker, &["verify", &fresh, "--server", url, "--action", "write", "--json"], 1);
    assert_eq!((denied["failed_caveat"]["index"].as_u64(), denied["exit"].as_u64()), (Some(0), Some(1)), "{denied}");
    cli(env, checker, &["inspect", &fresh, "--server", url, "--json"], 0);
    let receipt =
        cli(env, checker, &["spend", &fresh, "--server", url, "--cost", "1", "--action", "read", "--json"], 0);
    cli(env, checker, &["spend", &fresh, "--server", url, "--cost", "1", "--request-id", "x", "--json"], 1);
    let successor = text(&receipt, "/token").to_owned();
    let split = cli(env, checker, &["split", &successor, "--server", url, "--amount", "5", "--revocable", "--json"], 0);
    let remainder = text(&split, "/children/1/token").to_owned();
    let child = text(&split, "/children/0/token").to_owned();
    cli(env, checker, &["status", &remainder, "--server", url, "--json"], 0);
    cli(env, checker, &["lineage", &remainder, "--server", url, "--json"], 0);
    cli(env, checker, &["give-back", &child, "--server", url, "--json"], 0);
    cli(env, checker, &["revoke", &remainder, "--server", url, "--json"], 0);
    let ledger = env.path("ledger.db");
    cli(
        env,
        checker,
        &["doctor", "--key-file", &server.key, "--ledger", ledger.to_str().unwrap(), "--server", url, "--json"],
        0,
    );
    // No ledger in the data directory: an error finding, with its fix (exit 3).
    cli(env, checker, &["doctor", "--key-file", &server.key, "--server", url, "--json"], 3);
    // The OpenAPI document describes the same shapes: every property of every answer's schema
    // is a field of the contract (the request body's are inputs, not answers).
    let doc: Value = serde_json::from_str(&send("GET", &format!("{url}/openapi.json"), None, &[], "").body).unwrap();
    // The request bodies (each route's own), named by the routes that take them.
    let bodies: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .filter_map(|op| op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str())
        .map(|r| r.trim_start_matches("#/components/schemas/").to_owned())
        .collect();
    assert!(bodies.iter().any(|b| b == "SpendBody"), "{bodies:?}");
    for (schema, def) in doc["components"]["schemas"].as_object().unwrap() {
        if bodies.contains(schema) {
            continue;
        }
        for (name, property) in def["properties"].as_object().into_iter().flatten() {
            let problem = schema == "ProblemBody" && checker.rows.contains_key(&format!("problem:{name}"));
            if !problem
                && !checker.rows.contains_key(name)
                && !checker.rows.keys().any(|k| k.ends_with(&format!(".{name}")))
            {
                checker.violations.push(format!("openapi.json: {schema}.{name} is not in the JSON contract"));
            }
            let _ = property;
        }
    }
}

/// The metering proxy: its refusals (RFC 9457 problems), the holder routes under its reserved
/// prefix, and its admin listener. (A paid answer's body is the upstream's, not crumb's.)
fn walk_proxy(checker: &mut Checker) {
    let upstream = Upstream::start();
    let server = start(&[&["--upstream", &upstream.url, "--admin-listen", "127.0.0.1:0"], PRICES].concat());
    let chat = "/v1/chat";
    http(checker, &server, "POST", chat, None, &Value::Null, 402);
    let poor = server.mint(&["--balance", "4"]);
    http(checker, &server, "POST", chat, Some(&poor), &Value::Null, 402);
    let reader = server.mint(&["--balance", "20", "--caveat", "action = GET"]);
    let refused = http(checker, &server, "POST", chat, Some(&reader), &Value::Null, 403);
    assert_eq!(refused["caveat"], "action = GET", "{refused}");
    http(checker, &server, "DELETE", chat, Some(&reader), &Value::Null, 403);
    let holder = server.mint(&["--balance", "20", "--expires-in", "1h"]);
    let prefix = "/.well-known/crumb";
    http(checker, &server, "GET", &format!("{prefix}/v1/status"), Some(&holder), &Value::Null, 200);
    let verify = json!({ "token": holder, "action": "GET", "explain": true });
    http(checker, &server, "POST", &format!("{prefix}/v1/verify"), None, &verify, 200);
    let split = json!({ "token": holder, "amounts": [5], "revocable": true, "request_id": "p1" });
    let split = http(checker, &server, "POST", &format!("{prefix}/v1/split"), None, &split, 200);
    let remainder = text(&split, "/children/1/token").to_owned();
    http(checker, &server, "GET", &format!("{prefix}/v1/lineage"), Some(&remainder), &Value::Null, 200);
    let admin = server.admin.clone().expect("an admin listener");
    for path in ["/healthz", "/readyz"] {
        let answer = send("GET", &format!("{admin}{path}"), None, &[], "");
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
        checker.check(&format!("GET {path} (admin)"), &answer.json());
    }
}

#[test]
fn every_command_and_route_speaks_the_contract() {
    let mut checker = Checker::new(contract());
    walk_cli(&mut checker);
    walk_server(&mut checker);
    walk_proxy(&mut checker);
    assert!(checker.documents > 60, "walked {} documents", checker.documents);
    assert!(checker.violations.is_empty(), "fields outside the JSON contract:\n{}", checker.violations.join("\n"));
    // And the contract lists nothing that nothing answers with.
    // (The MCP tools' own fields are seen by the MCP tests, which check every tool result.)
    let unseen: Vec<&String> = (checker.rows.iter())
        .filter(|(k, row)| !checker.seen.contains(*k) && !row.place.starts_with("MCP"))
        .map(|(k, _)| k)
        .collect();
    assert!(unseen.is_empty(), "the contract lists fields no command or route answered with: {unseen:?}");
}
