# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_crumb_global_optspecs
    string join \n h/help V/version
end

function __fish_crumb_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_crumb_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_crumb_using_subcommand
    set -l cmd (__fish_crumb_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c crumb -n "__fish_crumb_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_needs_command" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "keygen" -d 'Generate a root key and print its key id'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "mint" -d 'Mint a token; prints it and a newline, nothing else on stdout'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "attenuate" -d 'Add caveats to a token (no key needed); prints the narrower token'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "inspect" -d 'Show a token\'s location, identifier, caveats and warnings. No key needed; with a key, also whether the signature holds. The signature is hidden unless --show-signature. With --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and whether it is a revocable delegation, which the ledger records, not the token'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "verify" -d 'Verify a token\'s signature and every caveat against a request'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "discharge" -d 'Mint a discharge macaroon for a third-party caveat, as the third party'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "bind" -d 'Bind discharges to a token; prints each bound discharge on its own line'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "spend" -d 'Spend COST from a token\'s balance; prints the successor token'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "split" -d 'Split a token\'s balance: one child per --amount plus a remainder child, each with every caveat of the parent; prints one token per line (the remainder last)'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "revoke" -d 'Revoke a token by itself or by its nonce; verify and spend refuse it from then on'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "give-back" -d 'Give a split-off token\'s whole balance back to the lineage it was split from'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "top-up" -d 'Add credit to a live token\'s lineage, on this ledger (the operator\'s): the lineage\'s next spend, split or proxied request returns a successor carrying it, and the agent changes nothing'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "status" -d 'Show a token\'s standing: live, spent, revoked or held; its balance and expiry; whether it is a revocable delegation; credit returned to its lineage; and what it delegated'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "lineage" -d 'Show the delegation tree a token belongs to: which token was spent into which successor, which was split into which children, with amounts, request ids, times, and what is live'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "ledger" -d 'The ledger\'s upkeep'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "doctor" -d 'Check the key, keyring, data directory and ledger (and a server), each finding with its fix'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "serve" -d 'Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream)'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "request" -d 'Send an HTTP request paid for by a token file, and keep the file rotated'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "mcp" -d 'Serve the agent\'s wallet to an MCP host over stdio: the agent pays, splits and delegates with wallet entries, and the model never sees a token'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "completions" -d 'Print a shell completion script on stdout'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "caveats" -d 'The caveat language: what each caveat means and how it narrows a token'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "generate" -d 'Write shell completions or man pages into a directory'
complete -c crumb -n "__fish_crumb_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l out -d 'Write the key to FILE (hex, mode 0600) instead of the default key file' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l keyring -d 'Add a new key to this keyring (created if missing) and make it current' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l retire -d 'With --keyring: retire key KID instead of adding one; its tokens stop verifying. The current key is refused: add a new current key first' -r
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l import -d 'With --keyring: add an existing key file (default: the default key file) to the keyring instead of a new key, keeping its key id, so the tokens minted with it go on verifying. It becomes current only if the keyring has no current key' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l force -d 'Replace an existing key file'
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l list -d 'With --keyring: list its keys (ids, creation, current or retired; never the keys)'
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -l json -d 'Print {"key_id", "path"} as JSON'
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand keygen" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l location -d 'A location hint for holders (not covered by the signature)' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l id -d 'A custom identifier, for interop (default: crumb1:<key id>:<random 128-bit nonce>). No ledger tracks such a token: it can be neither spent nor revoked' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -s c -l caveat -d 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l expires-in -d 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l raw -d 'A caveat added as raw bytes without checking it, for interop; repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l balance -d 'Give the token a credit balance (adds `balance <= N`)' -r
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l format -d 'Output format' -r -f -a "v1\t'v1 binary, base64url (pymacaroons, libmacaroons)'
v2\t'v2 binary, base64url without padding'
json\t'v2 JSON'
v1-json\t'v1 JSON'"
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l operator -d 'Mint an operator credential: it may revoke any token by nonce (and cascade) through `crumb serve`, and authorizes no ordinary request. Give it an expiry'
complete -c crumb -n "__fish_crumb_using_subcommand mint" -l json -d 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead'
complete -c crumb -n "__fish_crumb_using_subcommand mint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand mint" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -s c -l caveat -d 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l expires-in -d 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)' -r
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l raw -d 'A caveat added as raw bytes without checking it, for interop; repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l balance -d 'Cap the balance this token may spend (adds `balance <= N`; a cap, not a split)' -r
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l third-party -d 'Add a third-party caveat: a discharge from LOCATION will be needed (with --caveat-key-file, --caveat-id)' -r
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l caveat-key-file -d 'The key shared with the third party, who mints discharges with it' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l caveat-key-format -d 'How the caveat key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l caveat-id -d 'The identifier the third party will see (and mint its discharge with)' -r
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l format -d 'Output format' -r -f -a "v1\t'v1 binary, base64url (pymacaroons, libmacaroons)'
v2\t'v2 binary, base64url without padding'
json\t'v2 JSON'
v1-json\t'v1 JSON'"
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -l json -d 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead'
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand attenuate" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l key-file -d 'Check the signature with this key (hex unless --key-format)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l key-format -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l discharge -d 'Discharges to match against the third-party caveats; repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l server -d 'Also ask this `crumb serve` (or a proxy\'s URL/.well-known/crumb) for the token\'s standing: its state, and whether it is a revocable delegation' -r
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l json -d 'Print a stable JSON document instead of a table'
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -l show-signature -d 'Include the signature (with the caveats, it is the whole bearer token)'
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l action -d 'The action requested (checked by `action` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l resource -d 'The resource requested (checked by `resource` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l ip -d 'The client\'s address (checked by `ip` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l aud -d 'The audience verifying the token (checked by `aud` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l context -d 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l at -d 'Check as of this time (RFC 3339) instead of now' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l cost -d 'What this request costs (checked by `max-cost` and `balance` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l exact -d 'A caveat satisfied by exact string match (libmacaroons\' satisfy_exact); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l discharge -d 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l discharge-file -d 'Read discharges from FILE, one per line (`-`: standard input); repeatable' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l server -d 'Ask a remote `crumb serve` instead of checking locally (no key needed)' -r
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l only-exact -d 'Satisfy nothing but the --exact strings (libmacaroons\' verifier semantics)'
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l offline -d 'Check signature and caveats only, without a ledger: a spent or revoked token passes'
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l explain -d 'List every caveat with pass or fail and why, not only the first failure'
complete -c crumb -n "__fish_crumb_using_subcommand verify" -l json -d 'Print a stable JSON verdict (always with every caveat)'
complete -c crumb -n "__fish_crumb_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand verify" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l key-file -d 'The caveat key file shared with the issuer' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l id -d 'The caveat identifier, exactly as in the third-party caveat' -r
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l location -d 'A location hint' -r
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -s c -l caveat -d 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l expires-in -d 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)' -r
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l raw -d 'A caveat added as raw bytes without checking it, for interop; repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l format -d 'Output format' -r -f -a "v1\t'v1 binary, base64url (pymacaroons, libmacaroons)'
v2\t'v2 binary, base64url without padding'
json\t'v2 JSON'
v1-json\t'v1 JSON'"
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -l json -d 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead'
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand discharge" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand bind" -l format -d 'Output format' -r -f -a "v1\t'v1 binary, base64url (pymacaroons, libmacaroons)'
v2\t'v2 binary, base64url without padding'
json\t'v2 JSON'
v1-json\t'v1 JSON'"
complete -c crumb -n "__fish_crumb_using_subcommand bind" -l json -d 'Print {"discharges": [bound, ...]} instead of one per line'
complete -c crumb -n "__fish_crumb_using_subcommand bind" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand bind" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l request-id -d 'Idempotency key: the same id retried returns the same result' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l action -d 'The action requested (checked by `action` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l resource -d 'The resource requested (checked by `resource` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l ip -d 'The client\'s address (checked by `ip` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l aud -d 'The audience verifying the token (checked by `aud` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l context -d 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l at -d 'Check as of this time (RFC 3339) instead of now' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l exact -d 'A caveat satisfied by exact string match (libmacaroons\' satisfy_exact); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l discharge -d 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l discharge-file -d 'Read discharges from FILE, one per line (`-`: standard input); repeatable' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l server -d 'Use a remote `crumb serve` instead of a local key and ledger' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l format -d 'Output format of the issued tokens' -r -f -a "v1\t'v1 binary, base64url (pymacaroons, libmacaroons)'
v2\t'v2 binary, base64url without padding'
json\t'v2 JSON'
v1-json\t'v1 JSON'"
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l cost -d 'What this request costs' -r
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l only-exact -d 'Satisfy nothing but the --exact strings (libmacaroons\' verifier semantics)'
complete -c crumb -n "__fish_crumb_using_subcommand spend" -l json -d 'Print a JSON receipt instead of bare tokens'
complete -c crumb -n "__fish_crumb_using_subcommand spend" -s q -l quiet -d 'Print nothing on stderr after success (no `crumb: paid N, M left`)'
complete -c crumb -n "__fish_crumb_using_subcommand spend" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand spend" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand split" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand split" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand split" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand split" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand split" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l request-id -d 'Idempotency key: the same id retried returns the same result' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l at -d 'Check as of this time (RFC 3339) instead of now' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l exact -d 'A caveat satisfied by exact string match (libmacaroons\' satisfy_exact); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l discharge -d 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l discharge-file -d 'Read discharges from FILE, one per line (`-`: standard input); repeatable' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand split" -l server -d 'Use a remote `crumb serve` instead of a local key and ledger' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l format -d 'Output format of the issued tokens' -r -f -a "v1\t'v1 binary, base64url (pymacaroons, libmacaroons)'
v2\t'v2 binary, base64url without padding'
json\t'v2 JSON'
v1-json\t'v1 JSON'"
complete -c crumb -n "__fish_crumb_using_subcommand split" -l amount -d 'A child\'s balance; repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l action -d 'The action requested (checked by `action` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l resource -d 'The resource requested (checked by `resource` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l ip -d 'The client\'s address (checked by `ip` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l aud -d 'The audience verifying the token (checked by `aud` caveats)' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l context -d 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand split" -l only-exact -d 'Satisfy nothing but the --exact strings (libmacaroons\' verifier semantics)'
complete -c crumb -n "__fish_crumb_using_subcommand split" -l json -d 'Print a JSON receipt instead of bare tokens'
complete -c crumb -n "__fish_crumb_using_subcommand split" -s q -l quiet -d 'Print nothing on stderr after success (no `crumb: paid N, M left`)'
complete -c crumb -n "__fish_crumb_using_subcommand split" -l revocable -d 'Delegate rather than transfer: the children (not the remainder) can be revoked by this token\'s lineage (`crumb revoke --token-file F --nonce CHILD`), their unspent balance coming back. Without it a child is final, like a payment'
complete -c crumb -n "__fish_crumb_using_subcommand split" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand split" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l token-file -d 'Read the token from FILE (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l nonce -d 'The nonce to revoke (32 hex digits): any, as the ledger\'s owner or with an operator credential; a revocable child of its lineage, with a holder\'s token' -r
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l server -d 'Ask a remote `crumb serve` instead of writing a ledger file' -r
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l credential-file -d 'With --server: an operator credential (`crumb mint --operator`) in FILE' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l cascade -d 'Also revoke every successor and child descended from it through spend and split'
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l unseen -d 'Revoke a --nonce the ledger has never seen (a token minted and never used). Without it such a nonce is refused (`unknown-token`, exit 2): it may be mistyped, or another ledger\'s. A token given itself is revoked either way'
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -l json -d 'Print {"nonce", "revoked": [nonces]} as JSON (locally also "seen": whether the ledger had a record of the nonce before)'
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand revoke" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l exact -d 'A caveat satisfied by exact string match (libmacaroons\' satisfy_exact); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l discharge -d 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file' -r
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l discharge-file -d 'Read discharges from FILE, one per line (`-`: standard input); repeatable' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l request-id -d 'Idempotency key: the same id retried by the same token returns the same answer' -r
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l server -d 'Use a remote `crumb serve` (or a proxy\'s URL/.well-known/crumb) instead of a local key and ledger' -r
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l only-exact -d 'Satisfy nothing but the --exact strings (libmacaroons\' verifier semantics)'
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -l json -d 'Print the answer as JSON: {"nonce", "returned", "request_id", "replayed", "at"}'
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand give-back" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -l nonce -d 'The token\'s nonce (32 hex digits; `crumb inspect` shows it)' -r
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -l amount -d 'The credit to add' -r
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -l request-id -d 'Names this top-up: retrying it adds nothing again' -r
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -l json -d 'Print the answer as JSON: {"nonce", "head", "amount", "request_id", "replayed", "owed"}'
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand top-up" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand status" -l token-file -d 'Read the token from FILE instead (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand status" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand status" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand status" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand status" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand status" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand status" -l server -d 'Ask a remote `crumb serve` (or a proxy\'s URL/.well-known/crumb) instead of a local key and ledger' -r
complete -c crumb -n "__fish_crumb_using_subcommand status" -l json -d 'Print the status as JSON (the fields of `GET /v1/status`)'
complete -c crumb -n "__fish_crumb_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand status" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l token-file -d 'Read the token from FILE (`-`: standard input)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l nonce -d 'The token\'s nonce (32 hex digits)' -r
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l server -d 'Ask a remote `crumb serve` instead of reading a ledger file' -r
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l credential-file -d 'With --server and --nonce: an operator credential (`crumb mint --operator`) in FILE' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l format -d 'How to draw the tree: text, json, or dot (Graphviz: `| dot -Tsvg > tree.svg`)' -r -f -a "text\t''
json\t''
dot\t''"
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -l json -d 'The same as --format json'
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand lineage" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and not __fish_seen_subcommand_from init help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and not __fish_seen_subcommand_from init help" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and not __fish_seen_subcommand_from init help" -f -a "init" -d 'Create the ledger, or upgrade its schema, and say where it is'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and not __fish_seen_subcommand_from init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and __fish_seen_subcommand_from init" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and __fish_seen_subcommand_from init" -l json -d 'Print {"ledger", "schema_version", "created"} as JSON'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "init" -d 'Create the ledger, or upgrade its schema, and say where it is'
complete -c crumb -n "__fish_crumb_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l server -d 'Also check that a crumb server answers GET URL/healthz' -r
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l only -d 'Run only these checks (repeatable): a container\'s HEALTHCHECK runs `--only server`, a readiness probe `--only ledger`' -r -f -a "data-directory\t''
key\t''
ledger\t''
server\t''"
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -l json -d 'Print {"ok", "findings": [{"check", "status", "subject", "message", "fix"}]} as JSON'
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l config -d 'Read the settings from this TOML file: keys are these flags\' long names without `--`, plus an `[upstream-headers]` table whose secrets are `env:NAME` or `file:PATH` references. A flag or its environment variable overrides the file. Re-read on SIGHUP' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l listen -d 'Address to listen on (port 0 picks a free port; the address is printed on stdout)' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l key-file -d 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file\'s `key-file` or `keyring`, else the key `crumb keygen` wrote' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l key-fd -d 'Read the root key from this open file descriptor (for scripts that pipe secrets)' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l key-format -d 'How the key\'s bytes are written' -r -f -a "hex\t''
raw\t''
base64\t''"
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l keyring -d 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l ledger -d 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file\'s `ledger`, else ledger.sqlite3 in the data directory]' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l audit-log -d 'Append one JSON line per decision to this file' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l trust-proxy -d 'Believe X-Forwarded-For from peers in these networks (your proxies), e.g. `10.0.0.0/8,127.0.0.1`: the client is the rightmost hop that is not one of them' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l timeout -d 'Per-request timeout (reading the body, the work, the answer): `10`, `10s`, `1m`' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l rate-limit-ip -d 'Requests per client address (the peer, or the client a --trust-proxy names): `N/s`, `N/m`, `N/h` (a burst of N, refilled over the period), or `off`. Over it: 429 with Retry-After. /healthz, /readyz and /metrics are never limited' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l rate-limit-token -d 'Requests per token, counted per tree (copies, and the successors and split children this server issued, count with the token they came from): `N/s`, `N/m`, `N/h`, or `off`' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l log-format -d 'The server\'s own log lines on stderr: `text`, or `json` (one object per line, for a log collector). Colour only on a terminal, and never with NO_COLOR set' -r -f -a "text\t''
json\t''"
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l max-connections -d 'Open connections at most; at the cap the oldest idle one is closed to make room' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l header-timeout -d 'How long a client may take to send a request\'s headers, or sit idle between requests' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l send-timeout -d 'How long an answer may wait for the client to read it (a stalled reader\'s connection is closed)' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l shutdown-grace -d 'How long shutdown waits for in-flight requests before closing their connections' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l tls-cert -d 'Serve HTTPS: the certificate chain (PEM, leaf first) for --listen and --admin-listen. Re-read with --tls-key on SIGHUP (a renewed certificate needs no restart)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l tls-key -d 'The private key (PEM) of --tls-cert; a private file (0600)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l threads -d 'Worker threads (default: one per core)' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l upstream -d 'Meter this API: every request on --listen is priced, paid for and passed on to URL (http:// beside the API, or https:// with the certificate verified). The JSON API moves to --admin-listen' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l upstream-ca -d 'Trust only the CA certificates in FILE (PEM) for an https:// upstream, instead of the Mozilla roots built into crumb' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l price -d 'Price a route: `METHOD /path=COST` (`*` for any method; a path covers what lies below it, by whole segments; the most specific rule wins); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l prices -d 'Read price rules from FILE, one per line (`#` comments)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l unpriced -d 'What to do with a request no rule prices: deny it (403), or let it through without a token' -r -f -a "deny\t''
free\t''"
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l upstream-header -d 'A header added to every upstream request, `Name: value`; `${VAR}` expands from the environment (keep the upstream\'s credentials out of argv); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l upstream-timeout -d 'How long the upstream may take to start answering, or pause in the middle of an answer' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l admin-listen -d 'With --upstream: serve the JSON API, /healthz, /metrics and /openapi.json here' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l audience -d 'The audience of every metered request, for `aud` caveats (default: the request\'s Host, without port, which the client chooses)' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l realm -d 'The realm of the `WWW-Authenticate: Crumb` payment challenge' -r
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l authz-mode -d 'What /v1/authz does with a priced request: spend it, or verify only' -r -f -a "spend\t''
verify\t''"
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l authz-payment-status -d 'The status /v1/authz answers when payment is needed: 401 (nginx passes only 401 and 403 on) or 402' -r -f -a "401\t''
402\t''"
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l check -d 'Check the configuration, print it as it would run (no secret shown) and exit: 0 when it is valid, 2 when not. Nothing is bound, created or opened'
complete -c crumb -n "__fish_crumb_using_subcommand serve" -l no-well-known -d 'With --upstream: do not serve the holder routes (verify, split, revoke, give-back, status, lineage) under /.well-known/crumb/v1/ on --listen. The prefix is never passed to the upstream either way'
complete -c crumb -n "__fish_crumb_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand serve" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand request" -l token-file -d 'The token file: read for the token, replaced by each successor' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand request" -s X -l request -d 'The method (default GET, or POST with --data)' -r
complete -c crumb -n "__fish_crumb_using_subcommand request" -s d -l data -d 'The body: DATA itself, @FILE, or @- for standard input' -r
complete -c crumb -n "__fish_crumb_using_subcommand request" -s H -l header -d 'A header `Name: value`; repeatable (not Authorization: the token file is the credential)' -r
complete -c crumb -n "__fish_crumb_using_subcommand request" -l idempotency-key -d 'The Idempotency-Key of this request (default: a new random one per run). A key this token file already paid with is answered from FILE.keys, never paid again' -r
complete -c crumb -n "__fish_crumb_using_subcommand request" -l timeout -d 'How long to wait in all: for the answer, and for a request still in flight at the server' -r
complete -c crumb -n "__fish_crumb_using_subcommand request" -s v -l verbose -d 'Print the status and headers of the answer on stderr'
complete -c crumb -n "__fish_crumb_using_subcommand request" -s q -l quiet -d 'Do not print `crumb: paid N, M left` on stderr after a payment'
complete -c crumb -n "__fish_crumb_using_subcommand request" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand request" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l server -d 'The `crumb serve` that verifies, spends and splits (its JSON API, with any path prefix: a metering proxy\'s public listener serves it under /.well-known/crumb). Without it, the local key and ledger are used' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l token -d 'Import a token file as entry NAME at start (unless the entry exists); repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l import-dir -d 'The directory handed-in tokens arrive in (token_receive takes them from there)' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l recipient -d 'A directory token_handoff may write to, named ALIAS to the model; repeatable' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l allow-origin -d 'An origin token_fetch may call (`https://api.example.com`, `http://127.0.0.1:8080`); repeatable. None: token_fetch calls nothing' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l max-cost -d 'The most one spend, fetch or handoff may cost, in credits' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l budget -d 'The most this process may pay or hand away in all, in credits' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l approve-above -d 'A spend, fetch, split or handoff above N credits needs a person\'s yes, asked through the MCP host (elicitation); refused when the host cannot ask or the person declines' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l fetch-timeout -d 'How long one token_fetch may take in all' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -l max-body -d 'The largest response body token_fetch returns to the model, in bytes (longer ones are cut)' -r
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand mcp" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand completions" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand caveats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crumb -n "__fish_crumb_using_subcommand caveats" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand generate" -l dir -d 'Directory to write into' -r -F
complete -c crumb -n "__fish_crumb_using_subcommand generate" -s h -l help -d 'Print help'
complete -c crumb -n "__fish_crumb_using_subcommand generate" -s V -l version -d 'Print version'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "keygen" -d 'Generate a root key and print its key id'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "mint" -d 'Mint a token; prints it and a newline, nothing else on stdout'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "attenuate" -d 'Add caveats to a token (no key needed); prints the narrower token'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "inspect" -d 'Show a token\'s location, identifier, caveats and warnings. No key needed; with a key, also whether the signature holds. The signature is hidden unless --show-signature. With --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and whether it is a revocable delegation, which the ledger records, not the token'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "verify" -d 'Verify a token\'s signature and every caveat against a request'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "discharge" -d 'Mint a discharge macaroon for a third-party caveat, as the third party'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "bind" -d 'Bind discharges to a token; prints each bound discharge on its own line'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "spend" -d 'Spend COST from a token\'s balance; prints the successor token'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "split" -d 'Split a token\'s balance: one child per --amount plus a remainder child, each with every caveat of the parent; prints one token per line (the remainder last)'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "revoke" -d 'Revoke a token by itself or by its nonce; verify and spend refuse it from then on'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "give-back" -d 'Give a split-off token\'s whole balance back to the lineage it was split from'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "top-up" -d 'Add credit to a live token\'s lineage, on this ledger (the operator\'s): the lineage\'s next spend, split or proxied request returns a successor carrying it, and the agent changes nothing'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "status" -d 'Show a token\'s standing: live, spent, revoked or held; its balance and expiry; whether it is a revocable delegation; credit returned to its lineage; and what it delegated'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "lineage" -d 'Show the delegation tree a token belongs to: which token was spent into which successor, which was split into which children, with amounts, request ids, times, and what is live'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "ledger" -d 'The ledger\'s upkeep'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "doctor" -d 'Check the key, keyring, data directory and ledger (and a server), each finding with its fix'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "serve" -d 'Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream)'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "request" -d 'Send an HTTP request paid for by a token file, and keep the file rotated'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "mcp" -d 'Serve the agent\'s wallet to an MCP host over stdio: the agent pays, splits and delegates with wallet entries, and the model never sees a token'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "completions" -d 'Print a shell completion script on stdout'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "caveats" -d 'The caveat language: what each caveat means and how it narrows a token'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "generate" -d 'Write shell completions or man pages into a directory'
complete -c crumb -n "__fish_crumb_using_subcommand help; and not __fish_seen_subcommand_from keygen mint attenuate inspect verify discharge bind spend split revoke give-back top-up status lineage ledger doctor serve request mcp completions caveats generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crumb -n "__fish_crumb_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "init" -d 'Create the ledger, or upgrade its schema, and say where it is'
