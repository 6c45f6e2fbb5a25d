
use builtin;
use str;

set edit:completion:arg-completer[crumb] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'crumb'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'crumb'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand keygen 'Generate a root key and print its key id'
            cand mint 'Mint a token; prints it and a newline, nothing else on stdout'
            cand attenuate 'Add caveats to a token (no key needed); prints the narrower token'
            cand inspect 'Show a token''s location, identifier, caveats and warnings. No key needed; with a key, also whether the signature holds. The signature is hidden unless --show-signature. With --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and whether it is a revocable delegation, which the ledger records, not the token'
            cand verify 'Verify a token''s signature and every caveat against a request'
            cand discharge 'Mint a discharge macaroon for a third-party caveat, as the third party'
            cand bind 'Bind discharges to a token; prints each bound discharge on its own line'
            cand spend 'Spend COST from a token''s balance; prints the successor token'
            cand split 'Split a token''s balance: one child per --amount plus a remainder child, each with every caveat of the parent; prints one token per line (the remainder last)'
            cand revoke 'Revoke a token by itself or by its nonce; verify and spend refuse it from then on'
            cand give-back 'Give a split-off token''s whole balance back to the lineage it was split from'
            cand top-up 'Add credit to a live token''s lineage, on this ledger (the operator''s): the lineage''s next spend, split or proxied request returns a successor carrying it, and the agent changes nothing'
            cand status 'Show a token''s standing: live, spent, revoked or held; its balance and expiry; whether it is a revocable delegation; credit returned to its lineage; and what it delegated'
            cand lineage 'Show the delegation tree a token belongs to: which token was spent into which successor, which was split into which children, with amounts, request ids, times, and what is live'
            cand ledger 'The ledger''s upkeep'
            cand doctor 'Check the key, keyring, data directory and ledger (and a server), each finding with its fix'
            cand serve 'Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream)'
            cand request 'Send an HTTP request paid for by a token file, and keep the file rotated'
            cand mcp 'Serve the agent''s wallet to an MCP host over stdio: the agent pays, splits and delegates with wallet entries, and the model never sees a token'
            cand completions 'Print a shell completion script on stdout'
            cand caveats 'The caveat language: what each caveat means and how it narrows a token'
            cand generate 'Write shell completions or man pages into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crumb;keygen'= {
            cand --out 'Write the key to FILE (hex, mode 0600) instead of the default key file'
            cand --keyring 'Add a new key to this keyring (created if missing) and make it current'
            cand --retire 'With --keyring: retire key KID instead of adding one; its tokens stop verifying. The current key is refused: add a new current key first'
            cand --import 'With --keyring: add an existing key file (default: the default key file) to the keyring instead of a new key, keeping its key id, so the tokens minted with it go on verifying. It becomes current only if the keyring has no current key'
            cand --force 'Replace an existing key file'
            cand --list 'With --keyring: list its keys (ids, creation, current or retired; never the keys)'
            cand --json 'Print {"key_id", "path"} as JSON'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;mint'= {
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --location 'A location hint for holders (not covered by the signature)'
            cand --id 'A custom identifier, for interop (default: crumb1:<key id>:<random 128-bit nonce>). No ledger tracks such a token: it can be neither spent nor revoked'
            cand -c 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable'
            cand --caveat 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable'
            cand --expires-in 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)'
            cand --raw 'A caveat added as raw bytes without checking it, for interop; repeatable'
            cand --balance 'Give the token a credit balance (adds `balance <= N`)'
            cand --format 'Output format'
            cand --operator 'Mint an operator credential: it may revoke any token by nonce (and cascade) through `crumb serve`, and authorizes no ordinary request. Give it an expiry'
            cand --json 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;attenuate'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand -c 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable'
            cand --caveat 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable'
            cand --expires-in 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)'
            cand --raw 'A caveat added as raw bytes without checking it, for interop; repeatable'
            cand --balance 'Cap the balance this token may spend (adds `balance <= N`; a cap, not a split)'
            cand --third-party 'Add a third-party caveat: a discharge from LOCATION will be needed (with --caveat-key-file, --caveat-id)'
            cand --caveat-key-file 'The key shared with the third party, who mints discharges with it'
            cand --caveat-key-format 'How the caveat key''s bytes are written'
            cand --caveat-id 'The identifier the third party will see (and mint its discharge with)'
            cand --format 'Output format'
            cand --json 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;inspect'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand --key-file 'Check the signature with this key (hex unless --key-format)'
            cand --key-format 'key-format'
            cand --discharge 'Discharges to match against the third-party caveats; repeatable'
            cand --server 'Also ask this `crumb serve` (or a proxy''s URL/.well-known/crumb) for the token''s standing: its state, and whether it is a revocable delegation'
            cand --json 'Print a stable JSON document instead of a table'
            cand --show-signature 'Include the signature (with the caveats, it is the whole bearer token)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;verify'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --action 'The action requested (checked by `action` caveats)'
            cand --resource 'The resource requested (checked by `resource` caveats)'
            cand --ip 'The client''s address (checked by `ip` caveats)'
            cand --aud 'The audience verifying the token (checked by `aud` caveats)'
            cand --context 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable'
            cand --at 'Check as of this time (RFC 3339) instead of now'
            cand --cost 'What this request costs (checked by `max-cost` and `balance` caveats)'
            cand --exact 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable'
            cand --discharge 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file'
            cand --discharge-file 'Read discharges from FILE, one per line (`-`: standard input); repeatable'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --server 'Ask a remote `crumb serve` instead of checking locally (no key needed)'
            cand --only-exact 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)'
            cand --offline 'Check signature and caveats only, without a ledger: a spent or revoked token passes'
            cand --explain 'List every caveat with pass or fail and why, not only the first failure'
            cand --json 'Print a stable JSON verdict (always with every caveat)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;discharge'= {
            cand --key-file 'The caveat key file shared with the issuer'
            cand --key-format 'How the key''s bytes are written'
            cand --id 'The caveat identifier, exactly as in the third-party caveat'
            cand --location 'A location hint'
            cand -c 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable'
            cand --caveat 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable'
            cand --expires-in 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)'
            cand --raw 'A caveat added as raw bytes without checking it, for interop; repeatable'
            cand --format 'Output format'
            cand --json 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;bind'= {
            cand --format 'Output format'
            cand --json 'Print {"discharges": [bound, ...]} instead of one per line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;spend'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --request-id 'Idempotency key: the same id retried returns the same result'
            cand --action 'The action requested (checked by `action` caveats)'
            cand --resource 'The resource requested (checked by `resource` caveats)'
            cand --ip 'The client''s address (checked by `ip` caveats)'
            cand --aud 'The audience verifying the token (checked by `aud` caveats)'
            cand --context 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable'
            cand --at 'Check as of this time (RFC 3339) instead of now'
            cand --exact 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable'
            cand --discharge 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file'
            cand --discharge-file 'Read discharges from FILE, one per line (`-`: standard input); repeatable'
            cand --server 'Use a remote `crumb serve` instead of a local key and ledger'
            cand --format 'Output format of the issued tokens'
            cand --cost 'What this request costs'
            cand --only-exact 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)'
            cand --json 'Print a JSON receipt instead of bare tokens'
            cand -q 'Print nothing on stderr after success (no `crumb: paid N, M left`)'
            cand --quiet 'Print nothing on stderr after success (no `crumb: paid N, M left`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;split'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --request-id 'Idempotency key: the same id retried returns the same result'
            cand --at 'Check as of this time (RFC 3339) instead of now'
            cand --exact 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable'
            cand --discharge 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file'
            cand --discharge-file 'Read discharges from FILE, one per line (`-`: standard input); repeatable'
            cand --server 'Use a remote `crumb serve` instead of a local key and ledger'
            cand --format 'Output format of the issued tokens'
            cand --amount 'A child''s balance; repeatable'
            cand --action 'The action requested (checked by `action` caveats)'
            cand --resource 'The resource requested (checked by `resource` caveats)'
            cand --ip 'The client''s address (checked by `ip` caveats)'
            cand --aud 'The audience verifying the token (checked by `aud` caveats)'
            cand --context 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable'
            cand --only-exact 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)'
            cand --json 'Print a JSON receipt instead of bare tokens'
            cand -q 'Print nothing on stderr after success (no `crumb: paid N, M left`)'
            cand --quiet 'Print nothing on stderr after success (no `crumb: paid N, M left`)'
            cand --revocable 'Delegate rather than transfer: the children (not the remainder) can be revoked by this token''s lineage (`crumb revoke --token-file F --nonce CHILD`), their unspent balance coming back. Without it a child is final, like a payment'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;revoke'= {
            cand --token-file 'Read the token from FILE (`-`: standard input)'
            cand --nonce 'The nonce to revoke (32 hex digits): any, as the ledger''s owner or with an operator credential; a revocable child of its lineage, with a holder''s token'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --server 'Ask a remote `crumb serve` instead of writing a ledger file'
            cand --credential-file 'With --server: an operator credential (`crumb mint --operator`) in FILE'
            cand --cascade 'Also revoke every successor and child descended from it through spend and split'
            cand --unseen 'Revoke a --nonce the ledger has never seen (a token minted and never used). Without it such a nonce is refused (`unknown-token`, exit 2): it may be mistyped, or another ledger''s. A token given itself is revoked either way'
            cand --json 'Print {"nonce", "revoked": [nonces]} as JSON (locally also "seen": whether the ledger had a record of the nonce before)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;give-back'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --exact 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable'
            cand --discharge 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file'
            cand --discharge-file 'Read discharges from FILE, one per line (`-`: standard input); repeatable'
            cand --request-id 'Idempotency key: the same id retried by the same token returns the same answer'
            cand --server 'Use a remote `crumb serve` (or a proxy''s URL/.well-known/crumb) instead of a local key and ledger'
            cand --only-exact 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)'
            cand --json 'Print the answer as JSON: {"nonce", "returned", "request_id", "replayed", "at"}'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;top-up'= {
            cand --nonce 'The token''s nonce (32 hex digits; `crumb inspect` shows it)'
            cand --amount 'The credit to add'
            cand --request-id 'Names this top-up: retrying it adds nothing again'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --json 'Print the answer as JSON: {"nonce", "head", "amount", "request_id", "replayed", "owed"}'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;status'= {
            cand --token-file 'Read the token from FILE instead (`-`: standard input)'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --server 'Ask a remote `crumb serve` (or a proxy''s URL/.well-known/crumb) instead of a local key and ledger'
            cand --json 'Print the status as JSON (the fields of `GET /v1/status`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;lineage'= {
            cand --token-file 'Read the token from FILE (`-`: standard input)'
            cand --nonce 'The token''s nonce (32 hex digits)'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --server 'Ask a remote `crumb serve` instead of reading a ledger file'
            cand --credential-file 'With --server and --nonce: an operator credential (`crumb mint --operator`) in FILE'
            cand --format 'How to draw the tree: text, json, or dot (Graphviz: `| dot -Tsvg > tree.svg`)'
            cand --json 'The same as --format json'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;ledger'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Create the ledger, or upgrade its schema, and say where it is'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crumb;ledger;init'= {
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --json 'Print {"ledger", "schema_version", "created"} as JSON'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;ledger;help'= {
            cand init 'Create the ledger, or upgrade its schema, and say where it is'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crumb;ledger;help;init'= {
        }
        &'crumb;ledger;help;help'= {
        }
        &'crumb;doctor'= {
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --server 'Also check that a crumb server answers GET URL/healthz'
            cand --only 'Run only these checks (repeatable): a container''s HEALTHCHECK runs `--only server`, a readiness probe `--only ledger`'
            cand --json 'Print {"ok", "findings": [{"check", "status", "subject", "message", "fix"}]} as JSON'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;serve'= {
            cand --config 'Read the settings from this TOML file: keys are these flags'' long names without `--`, plus an `[upstream-headers]` table whose secrets are `env:NAME` or `file:PATH` references. A flag or its environment variable overrides the file. Re-read on SIGHUP'
            cand --listen 'Address to listen on (port 0 picks a free port; the address is printed on stdout)'
            cand --key-file 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote'
            cand --key-fd 'Read the root key from this open file descriptor (for scripts that pipe secrets)'
            cand --key-format 'How the key''s bytes are written'
            cand --keyring 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]'
            cand --ledger 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]'
            cand --audit-log 'Append one JSON line per decision to this file'
            cand --trust-proxy 'Believe X-Forwarded-For from peers in these networks (your proxies), e.g. `10.0.0.0/8,127.0.0.1`: the client is the rightmost hop that is not one of them'
            cand --timeout 'Per-request timeout (reading the body, the work, the answer): `10`, `10s`, `1m`'
            cand --rate-limit-ip 'Requests per client address (the peer, or the client a --trust-proxy names): `N/s`, `N/m`, `N/h` (a burst of N, refilled over the period), or `off`. Over it: 429 with Retry-After. /healthz, /readyz and /metrics are never limited'
            cand --rate-limit-token 'Requests per token, counted per tree (copies, and the successors and split children this server issued, count with the token they came from): `N/s`, `N/m`, `N/h`, or `off`'
            cand --log-format 'The server''s own log lines on stderr: `text`, or `json` (one object per line, for a log collector). Colour only on a terminal, and never with NO_COLOR set'
            cand --max-connections 'Open connections at most; at the cap the oldest idle one is closed to make room'
            cand --header-timeout 'How long a client may take to send a request''s headers, or sit idle between requests'
            cand --send-timeout 'How long an answer may wait for the client to read it (a stalled reader''s connection is closed)'
            cand --shutdown-grace 'How long shutdown waits for in-flight requests before closing their connections'
            cand --tls-cert 'Serve HTTPS: the certificate chain (PEM, leaf first) for --listen and --admin-listen. Re-read with --tls-key on SIGHUP (a renewed certificate needs no restart)'
            cand --tls-key 'The private key (PEM) of --tls-cert; a private file (0600)'
            cand --threads 'Worker threads (default: one per core)'
            cand --upstream 'Meter this API: every request on --listen is priced, paid for and passed on to URL (http:// beside the API, or https:// with the certificate verified). The JSON API moves to --admin-listen'
            cand --upstream-ca 'Trust only the CA certificates in FILE (PEM) for an https:// upstream, instead of the Mozilla roots built into crumb'
            cand --price 'Price a route: `METHOD /path=COST` (`*` for any method; a path covers what lies below it, by whole segments; the most specific rule wins); repeatable'
            cand --prices 'Read price rules from FILE, one per line (`#` comments)'
            cand --unpriced 'What to do with a request no rule prices: deny it (403), or let it through without a token'
            cand --upstream-header 'A header added to every upstream request, `Name: value`; `${VAR}` expands from the environment (keep the upstream''s credentials out of argv); repeatable'
            cand --upstream-timeout 'How long the upstream may take to start answering, or pause in the middle of an answer'
            cand --admin-listen 'With --upstream: serve the JSON API, /healthz, /metrics and /openapi.json here'
            cand --audience 'The audience of every metered request, for `aud` caveats (default: the request''s Host, without port, which the client chooses)'
            cand --realm 'The realm of the `WWW-Authenticate: Crumb` payment challenge'
            cand --authz-mode 'What /v1/authz does with a priced request: spend it, or verify only'
            cand --authz-payment-status 'The status /v1/authz answers when payment is needed: 401 (nginx passes only 401 and 403 on) or 402'
            cand --check 'Check the configuration, print it as it would run (no secret shown) and exit: 0 when it is valid, 2 when not. Nothing is bound, created or opened'
            cand --no-well-known 'With --upstream: do not serve the holder routes (verify, split, revoke, give-back, status, lineage) under /.well-known/crumb/v1/ on --listen. The prefix is never passed to the upstream either way'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;request'= {
            cand --token-file 'The token file: read for the token, replaced by each successor'
            cand -X 'The method (default GET, or POST with --data)'
            cand --request 'The method (default GET, or POST with --data)'
            cand -d 'The body: DATA itself, @FILE, or @- for standard input'
            cand --data 'The body: DATA itself, @FILE, or @- for standard input'
            cand -H 'A header `Name: value`; repeatable (not Authorization: the token file is the credential)'
            cand --header 'A header `Name: value`; repeatable (not Authorization: the token file is the credential)'
            cand --idempotency-key 'The Idempotency-Key of this request (default: a new random one per run). A key this token file already paid with is answered from FILE.keys, never paid again'
            cand --timeout 'How long to wait in all: for the answer, and for a request still in flight at the server'
            cand -v 'Print the status and headers of the answer on stderr'
            cand --verbose 'Print the status and headers of the answer on stderr'
            cand -q 'Do not print `crumb: paid N, M left` on stderr after a payment'
            cand --quiet 'Do not print `crumb: paid N, M left` on stderr after a payment'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;mcp'= {
            cand --server 'The `crumb serve` that verifies, spends and splits (its JSON API, with any path prefix: a metering proxy''s public listener serves it under /.well-known/crumb). Without it, the local key and ledger are used'
            cand --token 'Import a token file as entry NAME at start (unless the entry exists); repeatable'
            cand --import-dir 'The directory handed-in tokens arrive in (token_receive takes them from there)'
            cand --recipient 'A directory token_handoff may write to, named ALIAS to the model; repeatable'
            cand --allow-origin 'An origin token_fetch may call (`https://api.example.com`, `http://127.0.0.1:8080`); repeatable. None: token_fetch calls nothing'
            cand --max-cost 'The most one spend, fetch or handoff may cost, in credits'
            cand --budget 'The most this process may pay or hand away in all, in credits'
            cand --approve-above 'A spend, fetch, split or handoff above N credits needs a person''s yes, asked through the MCP host (elicitation); refused when the host cannot ask or the person declines'
            cand --fetch-timeout 'How long one token_fetch may take in all'
            cand --max-body 'The largest response body token_fetch returns to the model, in bytes (longer ones are cut)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;completions'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;caveats'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;generate'= {
            cand --dir 'Directory to write into'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crumb;help'= {
            cand keygen 'Generate a root key and print its key id'
            cand mint 'Mint a token; prints it and a newline, nothing else on stdout'
            cand attenuate 'Add caveats to a token (no key needed); prints the narrower token'
            cand inspect 'Show a token''s location, identifier, caveats and warnings. No key needed; with a key, also whether the signature holds. The signature is hidden unless --show-signature. With --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and whether it is a revocable delegation, which the ledger records, not the token'
            cand verify 'Verify a token''s signature and every caveat against a request'
            cand discharge 'Mint a discharge macaroon for a third-party caveat, as the third party'
            cand bind 'Bind discharges to a token; prints each bound discharge on its own line'
            cand spend 'Spend COST from a token''s balance; prints the successor token'
            cand split 'Split a token''s balance: one child per --amount plus a remainder child, each with every caveat of the parent; prints one token per line (the remainder last)'
            cand revoke 'Revoke a token by itself or by its nonce; verify and spend refuse it from then on'
            cand give-back 'Give a split-off token''s whole balance back to the lineage it was split from'
            cand top-up 'Add credit to a live token''s lineage, on this ledger (the operator''s): the lineage''s next spend, split or proxied request returns a successor carrying it, and the agent changes nothing'
            cand status 'Show a token''s standing: live, spent, revoked or held; its balance and expiry; whether it is a revocable delegation; credit returned to its lineage; and what it delegated'
            cand lineage 'Show the delegation tree a token belongs to: which token was spent into which successor, which was split into which children, with amounts, request ids, times, and what is live'
            cand ledger 'The ledger''s upkeep'
            cand doctor 'Check the key, keyring, data directory and ledger (and a server), each finding with its fix'
            cand serve 'Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream)'
            cand request 'Send an HTTP request paid for by a token file, and keep the file rotated'
            cand mcp 'Serve the agent''s wallet to an MCP host over stdio: the agent pays, splits and delegates with wallet entries, and the model never sees a token'
            cand completions 'Print a shell completion script on stdout'
            cand caveats 'The caveat language: what each caveat means and how it narrows a token'
            cand generate 'Write shell completions or man pages into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crumb;help;keygen'= {
        }
        &'crumb;help;mint'= {
        }
        &'crumb;help;attenuate'= {
        }
        &'crumb;help;inspect'= {
        }
        &'crumb;help;verify'= {
        }
        &'crumb;help;discharge'= {
        }
        &'crumb;help;bind'= {
        }
        &'crumb;help;spend'= {
        }
        &'crumb;help;split'= {
        }
        &'crumb;help;revoke'= {
        }
        &'crumb;help;give-back'= {
        }
        &'crumb;help;top-up'= {
        }
        &'crumb;help;status'= {
        }
        &'crumb;help;lineage'= {
        }
        &'crumb;help;ledger'= {
            cand init 'Create the ledger, or upgrade its schema, and say where it is'
        }
        &'crumb;help;ledger;init'= {
        }
        &'crumb;help;doctor'= {
        }
        &'crumb;help;serve'= {
        }
        &'crumb;help;request'= {
        }
        &'crumb;help;mcp'= {
        }
        &'crumb;help;completions'= {
        }
        &'crumb;help;caveats'= {
        }
        &'crumb;help;generate'= {
        }
        &'crumb;help;help'= {
        }
    ]
    $completions[$command]
}
