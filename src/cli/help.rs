//! Reference text an installed user reads without the README: the caveat grammar
//! (`crumb help caveats`), the environment, the files, and each subcommand's examples. The
//! same text feeds `--help` and the man pages.

/// The caveat language, as `crumb help caveats` and crumb-caveats(1) print it.
pub const CAVEATS: &str = "\
The caveat language: each first-party caveat is one line `KEY OP VALUE`. Several caveats of one
kind all apply, so adding a caveat only ever narrows what a token allows. Text that does not
parse is an unknown caveat and is denied (fail closed) unless the verifier satisfies it with
--exact.

  expires < 2026-12-01T00:00:00Z       now is before the time (also `time < ...`)
  not-before >= 2026-12-01T00:00:00Z   now is at or after the time
  action = read                        the request's --action is read
  action in read,write                 the request's --action is one of the list
  resource = /docs/7                   the requested --resource is exactly this path
  resource prefix /apps/42             /apps/42 or below, by whole segments (not /apps/421)
  ip in 10.0.0.0/8,fd00::/8            the client's --ip is in a network (also `ip = ADDR`)
  aud = billing-api                    the verifier's --aud is listed (also `aud in a,b`)
  max-cost <= 5                        the request's --cost is at most 5
  balance <= 10000                     the cost is at most the balance (the smallest applies)
  spend-rate <= 100/1h                 at most 100 credits spent in any hour (30s, 15m, 1h, 1d), by
                                       this token and all issued from it; counted by the ledger,
                                       so a verification without one (--offline) denies it
  NAME = VALUE, NAME in a,b            the application fact --context NAME=VALUE is listed

Times are RFC 3339. Names are [a-z0-9][a-z0-9_.-]*. A fact the request does not give (no
--action for an `action` caveat, no --context value) denies. The request's cost defaults to 0.
Resource paths with `.`, `..`, empty segments, backslashes, raw whitespace or percent-encoded
dots and slashes are refused, so no prefix can be escaped. `mint` and `attenuate` refuse a malformed
caveat; `--raw` adds bytes unchecked, for interop with other libraries.";

/// The environment variables crumb reads, for `--help` and the man pages.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("CRUMB_DATA_DIR", "The data directory (default: $XDG_DATA_HOME/crumb or ~/.local/share/crumb)."),
    ("CRUMB_KEY_FILE", "The root key file, when no --key-file, --keyring or --key-fd is given."),
    ("CRUMB_KEYRING", "A keyring file, when no key flag and no CRUMB_KEY_FILE is given."),
    ("CRUMB_LEDGER", "The ledger, when no --ledger is given (default: in the data directory)."),
    ("CRUMB_LOG", "What `crumb serve` logs to stderr, as a tracing filter (default: info)."),
    ("CRUMB_TABLES", "box or plain: how tables are drawn (default: boxes on a terminal, plain columns in a pipe)."),
];

/// The files crumb keeps, for the man pages.
pub const FILES: &[(&str, &str)] = &[
    ("$CRUMB_DATA_DIR/root.key", "The default root key, written by `crumb keygen` with mode 0600."),
    ("$CRUMB_DATA_DIR/ledger.sqlite3", "The default ledger of spent and revoked tokens (mode 0600)."),
];

/// `crumb --help`'s closing paragraph.
pub fn after_help() -> String {
    let mut text = String::from(
        "Exit codes: 0 valid/done, 1 denied, 2 bad input or usage, 3 ledger, file system or server unavailable.\n\
         The caveat language: crumb help caveats.\n\nEnvironment:\n",
    );
    for (name, what) in ENVIRONMENT {
        text.push_str(&format!("  {name:<15} {what}\n"));
    }
    text
}

/// Examples for a subcommand's man page (and its `--help`), one `(comment, command)` each.
pub fn examples(subcommand: &str) -> &'static [(&'static str, &'static str)] {
    match subcommand {
        "keygen" => &[
            ("Write the default root key.", "crumb keygen"),
            (
                "Move the default key into a keyring, keeping its id (its tokens go on verifying).",
                "crumb keygen --keyring ring.json --import",
            ),
            ("Rotate: add a key to a keyring and make it current.", "crumb keygen --keyring ring.json"),
            ("Retire a key: its tokens stop verifying.", "crumb keygen --keyring ring.json --retire 914fe90ba7e10d45"),
        ],
        "mint" => &[
            (
                "A token for reads under /apps/42 with a balance of 100, valid for a week.",
                "crumb mint --balance 100 -c 'action = read' -c 'resource prefix /apps/42' --expires-in 7d",
            ),
            ("An operator credential for revocations, valid for an hour.", "crumb mint --operator --expires-in 1h"),
        ],
        "attenuate" => &[
            ("Narrow a token before handing it on.", "crumb attenuate \"$TOKEN\" -c 'action = read' -c 'max-cost <= 5'"),
            (
                "Require a discharge from an identity provider.",
                "crumb attenuate \"$TOKEN\" --third-party https://idp.example --caveat-key-file idp.key \\\n    --caveat-id 'user = alice'",
            ),
        ],
        "inspect" => &[
            ("Read a token as a table.", "crumb inspect \"$TOKEN\""),
            ("Its balance, for a script.", "crumb inspect \"$TOKEN\" --json | jq .balance"),
        ],
        "verify" => &[
            (
                "Check a request and list every caveat's verdict.",
                "crumb verify \"$TOKEN\" --action read --resource /apps/42/logs --cost 3 --explain",
            ),
            ("Ask a running server instead.", "crumb verify \"$TOKEN\" --action read --server http://127.0.0.1:7878"),
        ],
        "discharge" => &[(
            "At the identity provider: answer a third-party caveat.",
            "crumb discharge --key-file idp.key --id 'user = alice' -c 'expires < 2030-01-01T00:00:00Z'",
        )],
        "bind" => &[("At the client: bind a discharge to the token it answers.", "crumb bind \"$TOKEN\" \"$DISCHARGE\"")],
        "spend" => &[(
            "Pay 3 from the token in agent.token, which is replaced by the successor.",
            "crumb spend --token-file agent.token --cost 3 --action read --resource /apps/42/x --request-id p1",
        )],
        "split" => &[(
            "Hand 30 to agent B (b.token); agent.token keeps the remainder.",
            "crumb split --token-file agent.token --amount 30 --json | jq -r '.children[0].token' > b.token",
        )],
        "revoke" => &[
            ("Revoke a token and everything spent or split from it.", "crumb revoke --nonce \"$NONCE\" --cascade"),
            (
                "The same through a server, with an operator credential.",
                "crumb revoke --nonce \"$NONCE\" --cascade --server http://127.0.0.1:7878 --credential-file op.token",
            ),
        ],
        "doctor" => &[
            ("Check this machine's key, data directory and ledger.", "crumb doctor"),
            (
                "Check a deployment's keyring, shared ledger and server.",
                "crumb doctor --keyring /etc/crumb/ring.json --ledger postgres://crumb@db/crumb --server http://127.0.0.1:7878",
            ),
        ],
        "ledger" => &[
            ("Create the default ledger before the first spend.", "crumb ledger init"),
            ("Create the schema of a shared ledger.", "crumb ledger init --ledger postgres://crumb@db/crumb"),
        ],
        "lineage" => &[
            ("Where a token's credit went.", "crumb lineage --token-file agent.token"),
            ("A picture of the tree.", "crumb lineage --token-file agent.token --format dot | dot -Tsvg > tree.svg"),
        ],
        "serve" => &[
            ("Serve on the default key and ledger.", "crumb serve --listen 127.0.0.1:7878"),
            ("Behind a proxy on 10.0.0.0/8, with an audit log.", "crumb serve --trust-proxy 10.0.0.0/8 --audit-log audit.jsonl"),
            (
                "Meter an API: 5 units per chat, models free with a token, the JSON API on another port.",
                "crumb serve --listen 0.0.0.0:8080 --upstream http://127.0.0.1:9000 --price 'POST /v1/chat=5' --price 'GET /v1/models=0' --admin-listen 127.0.0.1:7879",
            ),
            (
                "Forward auth for nginx (auth_request to /v1/authz), prices from a file.",
                "crumb serve --prices prices.txt --trust-proxy 127.0.0.1",
            ),
        ],
        "request" => &[
            ("Call a metered API; agent.token is replaced by the successor.", "crumb request --token-file agent.token -X POST https://api.example.com/v1/chat -d @prompt.json -H 'Content-Type: application/json'"),
            ("Show the status and headers (balance, cost).", "crumb request -v --token-file agent.token https://api.example.com/v1/models"),
        ],
        "completions" => &[("Completions for bash.", "crumb completions bash > ~/.local/share/bash-completion/completions/crumb")],
        _ => &[],
    }
}

/// Examples as `--help` shows them.
pub fn examples_text(examples: &[(&str, &str)]) -> String {
    let mut text = String::from("Examples:\n");
    for (comment, command) in examples {
        text.push_str(&format!("  # {comment}\n  {}\n", command.replace('\n', "\n  ")));
    }
    text
}
