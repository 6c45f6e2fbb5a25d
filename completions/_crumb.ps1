
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'crumb' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'crumb'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'crumb' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Generate a root key and print its key id')
            [CompletionResult]::new('mint', 'mint', [CompletionResultType]::ParameterValue, 'Mint a token; prints it and a newline, nothing else on stdout')
            [CompletionResult]::new('attenuate', 'attenuate', [CompletionResultType]::ParameterValue, 'Add caveats to a token (no key needed); prints the narrower token')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a token''s location, identifier, caveats and warnings. No key needed; with a key, also whether the signature holds. The signature is hidden unless --show-signature. With --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and whether it is a revocable delegation, which the ledger records, not the token')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Verify a token''s signature and every caveat against a request')
            [CompletionResult]::new('discharge', 'discharge', [CompletionResultType]::ParameterValue, 'Mint a discharge macaroon for a third-party caveat, as the third party')
            [CompletionResult]::new('bind', 'bind', [CompletionResultType]::ParameterValue, 'Bind discharges to a token; prints each bound discharge on its own line')
            [CompletionResult]::new('spend', 'spend', [CompletionResultType]::ParameterValue, 'Spend COST from a token''s balance; prints the successor token')
            [CompletionResult]::new('split', 'split', [CompletionResultType]::ParameterValue, 'Split a token''s balance: one child per --amount plus a remainder child, each with every caveat of the parent; prints one token per line (the remainder last)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token by itself or by its nonce; verify and spend refuse it from then on')
            [CompletionResult]::new('give-back', 'give-back', [CompletionResultType]::ParameterValue, 'Give a split-off token''s whole balance back to the lineage it was split from')
            [CompletionResult]::new('top-up', 'top-up', [CompletionResultType]::ParameterValue, 'Add credit to a live token''s lineage, on this ledger (the operator''s): the lineage''s next spend, split or proxied request returns a successor carrying it, and the agent changes nothing')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a token''s standing: live, spent, revoked or held; its balance and expiry; whether it is a revocable delegation; credit returned to its lineage; and what it delegated')
            [CompletionResult]::new('lineage', 'lineage', [CompletionResultType]::ParameterValue, 'Show the delegation tree a token belongs to: which token was spent into which successor, which was split into which children, with amounts, request ids, times, and what is live')
            [CompletionResult]::new('ledger', 'ledger', [CompletionResultType]::ParameterValue, 'The ledger''s upkeep')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the key, keyring, data directory and ledger (and a server), each finding with its fix')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream)')
            [CompletionResult]::new('request', 'request', [CompletionResultType]::ParameterValue, 'Send an HTTP request paid for by a token file, and keep the file rotated')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve the agent''s wallet to an MCP host over stdio: the agent pays, splits and delegates with wallet entries, and the model never sees a token')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script on stdout')
            [CompletionResult]::new('caveats', 'caveats', [CompletionResultType]::ParameterValue, 'The caveat language: what each caveat means and how it narrows a token')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write shell completions or man pages into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crumb;keygen' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write the key to FILE (hex, mode 0600) instead of the default key file')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'Add a new key to this keyring (created if missing) and make it current')
            [CompletionResult]::new('--retire', '--retire', [CompletionResultType]::ParameterName, 'With --keyring: retire key KID instead of adding one; its tokens stop verifying. The current key is refused: add a new current key first')
            [CompletionResult]::new('--import', '--import', [CompletionResultType]::ParameterName, 'With --keyring: add an existing key file (default: the default key file) to the keyring instead of a new key, keeping its key id, so the tokens minted with it go on verifying. It becomes current only if the keyring has no current key')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace an existing key file')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'With --keyring: list its keys (ids, creation, current or retired; never the keys)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"key_id", "path"} as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;mint' {
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'A location hint for holders (not covered by the signature)')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'A custom identifier, for interop (default: crumb1:<key id>:<random 128-bit nonce>). No ledger tracks such a token: it can be neither spent nor revoked')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable')
            [CompletionResult]::new('--caveat', '--caveat', [CompletionResultType]::ParameterName, 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable')
            [CompletionResult]::new('--expires-in', '--expires-in', [CompletionResultType]::ParameterName, 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'A caveat added as raw bytes without checking it, for interop; repeatable')
            [CompletionResult]::new('--balance', '--balance', [CompletionResultType]::ParameterName, 'Give the token a credit balance (adds `balance <= N`)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--operator', '--operator', [CompletionResultType]::ParameterName, 'Mint an operator credential: it may revoke any token by nonce (and cascade) through `crumb serve`, and authorizes no ordinary request. Give it an expiry')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;attenuate' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable')
            [CompletionResult]::new('--caveat', '--caveat', [CompletionResultType]::ParameterName, 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable')
            [CompletionResult]::new('--expires-in', '--expires-in', [CompletionResultType]::ParameterName, 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'A caveat added as raw bytes without checking it, for interop; repeatable')
            [CompletionResult]::new('--balance', '--balance', [CompletionResultType]::ParameterName, 'Cap the balance this token may spend (adds `balance <= N`; a cap, not a split)')
            [CompletionResult]::new('--third-party', '--third-party', [CompletionResultType]::ParameterName, 'Add a third-party caveat: a discharge from LOCATION will be needed (with --caveat-key-file, --caveat-id)')
            [CompletionResult]::new('--caveat-key-file', '--caveat-key-file', [CompletionResultType]::ParameterName, 'The key shared with the third party, who mints discharges with it')
            [CompletionResult]::new('--caveat-key-format', '--caveat-key-format', [CompletionResultType]::ParameterName, 'How the caveat key''s bytes are written')
            [CompletionResult]::new('--caveat-id', '--caveat-id', [CompletionResultType]::ParameterName, 'The identifier the third party will see (and mint its discharge with)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;inspect' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Check the signature with this key (hex unless --key-format)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'key-format')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'Discharges to match against the third-party caveats; repeatable')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Also ask this `crumb serve` (or a proxy''s URL/.well-known/crumb) for the token''s standing: its state, and whether it is a revocable delegation')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a stable JSON document instead of a table')
            [CompletionResult]::new('--show-signature', '--show-signature', [CompletionResultType]::ParameterName, 'Include the signature (with the caveats, it is the whole bearer token)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;verify' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'The action requested (checked by `action` caveats)')
            [CompletionResult]::new('--resource', '--resource', [CompletionResultType]::ParameterName, 'The resource requested (checked by `resource` caveats)')
            [CompletionResult]::new('--ip', '--ip', [CompletionResultType]::ParameterName, 'The client''s address (checked by `ip` caveats)')
            [CompletionResult]::new('--aud', '--aud', [CompletionResultType]::ParameterName, 'The audience verifying the token (checked by `aud` caveats)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Check as of this time (RFC 3339) instead of now')
            [CompletionResult]::new('--cost', '--cost', [CompletionResultType]::ParameterName, 'What this request costs (checked by `max-cost` and `balance` caveats)')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file')
            [CompletionResult]::new('--discharge-file', '--discharge-file', [CompletionResultType]::ParameterName, 'Read discharges from FILE, one per line (`-`: standard input); repeatable')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Ask a remote `crumb serve` instead of checking locally (no key needed)')
            [CompletionResult]::new('--only-exact', '--only-exact', [CompletionResultType]::ParameterName, 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Check signature and caveats only, without a ledger: a spent or revoked token passes')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'List every caveat with pass or fail and why, not only the first failure')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a stable JSON verdict (always with every caveat)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;discharge' {
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'The caveat key file shared with the issuer')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'The caveat identifier, exactly as in the third-party caveat')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'A location hint')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable')
            [CompletionResult]::new('--caveat', '--caveat', [CompletionResultType]::ParameterName, 'A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable')
            [CompletionResult]::new('--expires-in', '--expires-in', [CompletionResultType]::ParameterName, 'Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'A caveat added as raw bytes without checking it, for interop; repeatable')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON document (the token, its nonce, key id, balance and expiry) instead')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;bind' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"discharges": [bound, ...]} instead of one per line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;spend' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--request-id', '--request-id', [CompletionResultType]::ParameterName, 'Idempotency key: the same id retried returns the same result')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'The action requested (checked by `action` caveats)')
            [CompletionResult]::new('--resource', '--resource', [CompletionResultType]::ParameterName, 'The resource requested (checked by `resource` caveats)')
            [CompletionResult]::new('--ip', '--ip', [CompletionResultType]::ParameterName, 'The client''s address (checked by `ip` caveats)')
            [CompletionResult]::new('--aud', '--aud', [CompletionResultType]::ParameterName, 'The audience verifying the token (checked by `aud` caveats)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Check as of this time (RFC 3339) instead of now')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file')
            [CompletionResult]::new('--discharge-file', '--discharge-file', [CompletionResultType]::ParameterName, 'Read discharges from FILE, one per line (`-`: standard input); repeatable')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Use a remote `crumb serve` instead of a local key and ledger')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the issued tokens')
            [CompletionResult]::new('--cost', '--cost', [CompletionResultType]::ParameterName, 'What this request costs')
            [CompletionResult]::new('--only-exact', '--only-exact', [CompletionResultType]::ParameterName, 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON receipt instead of bare tokens')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr after success (no `crumb: paid N, M left`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr after success (no `crumb: paid N, M left`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;split' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--request-id', '--request-id', [CompletionResultType]::ParameterName, 'Idempotency key: the same id retried returns the same result')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Check as of this time (RFC 3339) instead of now')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file')
            [CompletionResult]::new('--discharge-file', '--discharge-file', [CompletionResultType]::ParameterName, 'Read discharges from FILE, one per line (`-`: standard input); repeatable')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Use a remote `crumb serve` instead of a local key and ledger')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format of the issued tokens')
            [CompletionResult]::new('--amount', '--amount', [CompletionResultType]::ParameterName, 'A child''s balance; repeatable')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'The action requested (checked by `action` caveats)')
            [CompletionResult]::new('--resource', '--resource', [CompletionResultType]::ParameterName, 'The resource requested (checked by `resource` caveats)')
            [CompletionResult]::new('--ip', '--ip', [CompletionResultType]::ParameterName, 'The client''s address (checked by `ip` caveats)')
            [CompletionResult]::new('--aud', '--aud', [CompletionResultType]::ParameterName, 'The audience verifying the token (checked by `aud` caveats)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable')
            [CompletionResult]::new('--only-exact', '--only-exact', [CompletionResultType]::ParameterName, 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON receipt instead of bare tokens')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing on stderr after success (no `crumb: paid N, M left`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing on stderr after success (no `crumb: paid N, M left`)')
            [CompletionResult]::new('--revocable', '--revocable', [CompletionResultType]::ParameterName, 'Delegate rather than transfer: the children (not the remainder) can be revoked by this token''s lineage (`crumb revoke --token-file F --nonce CHILD`), their unspent balance coming back. Without it a child is final, like a payment')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;revoke' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE (`-`: standard input)')
            [CompletionResult]::new('--nonce', '--nonce', [CompletionResultType]::ParameterName, 'The nonce to revoke (32 hex digits): any, as the ledger''s owner or with an operator credential; a revocable child of its lineage, with a holder''s token')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Ask a remote `crumb serve` instead of writing a ledger file')
            [CompletionResult]::new('--credential-file', '--credential-file', [CompletionResultType]::ParameterName, 'With --server: an operator credential (`crumb mint --operator`) in FILE')
            [CompletionResult]::new('--cascade', '--cascade', [CompletionResultType]::ParameterName, 'Also revoke every successor and child descended from it through spend and split')
            [CompletionResult]::new('--unseen', '--unseen', [CompletionResultType]::ParameterName, 'Revoke a --nonce the ledger has never seen (a token minted and never used). Without it such a nonce is refused (`unknown-token`, exit 2): it may be mistyped, or another ledger''s. A token given itself is revoked either way')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"nonce", "revoked": [nonces]} as JSON (locally also "seen": whether the ledger had a record of the nonce before)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;give-back' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--exact', '--exact', [CompletionResultType]::ParameterName, 'A caveat satisfied by exact string match (libmacaroons'' satisfy_exact); repeatable')
            [CompletionResult]::new('--discharge', '--discharge', [CompletionResultType]::ParameterName, 'A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command line other local users can read it: prefer --discharge-file')
            [CompletionResult]::new('--discharge-file', '--discharge-file', [CompletionResultType]::ParameterName, 'Read discharges from FILE, one per line (`-`: standard input); repeatable')
            [CompletionResult]::new('--request-id', '--request-id', [CompletionResultType]::ParameterName, 'Idempotency key: the same id retried by the same token returns the same answer')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Use a remote `crumb serve` (or a proxy''s URL/.well-known/crumb) instead of a local key and ledger')
            [CompletionResult]::new('--only-exact', '--only-exact', [CompletionResultType]::ParameterName, 'Satisfy nothing but the --exact strings (libmacaroons'' verifier semantics)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON: {"nonce", "returned", "request_id", "replayed", "at"}')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;top-up' {
            [CompletionResult]::new('--nonce', '--nonce', [CompletionResultType]::ParameterName, 'The token''s nonce (32 hex digits; `crumb inspect` shows it)')
            [CompletionResult]::new('--amount', '--amount', [CompletionResultType]::ParameterName, 'The credit to add')
            [CompletionResult]::new('--request-id', '--request-id', [CompletionResultType]::ParameterName, 'Names this top-up: retrying it adds nothing again')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the answer as JSON: {"nonce", "head", "amount", "request_id", "replayed", "owed"}')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;status' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE instead (`-`: standard input)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Ask a remote `crumb serve` (or a proxy''s URL/.well-known/crumb) instead of a local key and ledger')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the status as JSON (the fields of `GET /v1/status`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;lineage' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from FILE (`-`: standard input)')
            [CompletionResult]::new('--nonce', '--nonce', [CompletionResultType]::ParameterName, 'The token''s nonce (32 hex digits)')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Ask a remote `crumb serve` instead of reading a ledger file')
            [CompletionResult]::new('--credential-file', '--credential-file', [CompletionResultType]::ParameterName, 'With --server and --nonce: an operator credential (`crumb mint --operator`) in FILE')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'How to draw the tree: text, json, or dot (Graphviz: `| dot -Tsvg > tree.svg`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The same as --format json')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;ledger' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the ledger, or upgrade its schema, and say where it is')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crumb;ledger;init' {
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"ledger", "schema_version", "created"} as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;ledger;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the ledger, or upgrade its schema, and say where it is')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crumb;ledger;help;init' {
            break
        }
        'crumb;ledger;help;help' {
            break
        }
        'crumb;doctor' {
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Also check that a crumb server answers GET URL/healthz')
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Run only these checks (repeatable): a container''s HEALTHCHECK runs `--only server`, a readiness probe `--only ledger`')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print {"ok", "findings": [{"check", "status", "subject", "message", "fix"}]} as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;serve' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the settings from this TOML file: keys are these flags'' long names without `--`, plus an `[upstream-headers]` table whose secrets are `env:NAME` or `file:PATH` references. A flag or its environment variable overrides the file. Re-read on SIGHUP')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (port 0 picks a free port; the address is printed on stdout)')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file''s `key-file` or `keyring`, else the key `crumb keygen` wrote')
            [CompletionResult]::new('--key-fd', '--key-fd', [CompletionResultType]::ParameterName, 'Read the root key from this open file descriptor (for scripts that pipe secrets)')
            [CompletionResult]::new('--key-format', '--key-format', [CompletionResultType]::ParameterName, 'How the key''s bytes are written')
            [CompletionResult]::new('--keyring', '--keyring', [CompletionResultType]::ParameterName, 'A keyring of several keys (rotation) [env: CRUMB_KEYRING]')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default: the configuration file''s `ledger`, else ledger.sqlite3 in the data directory]')
            [CompletionResult]::new('--audit-log', '--audit-log', [CompletionResultType]::ParameterName, 'Append one JSON line per decision to this file')
            [CompletionResult]::new('--trust-proxy', '--trust-proxy', [CompletionResultType]::ParameterName, 'Believe X-Forwarded-For from peers in these networks (your proxies), e.g. `10.0.0.0/8,127.0.0.1`: the client is the rightmost hop that is not one of them')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout (reading the body, the work, the answer): `10`, `10s`, `1m`')
            [CompletionResult]::new('--rate-limit-ip', '--rate-limit-ip', [CompletionResultType]::ParameterName, 'Requests per client address (the peer, or the client a --trust-proxy names): `N/s`, `N/m`, `N/h` (a burst of N, refilled over the period), or `off`. Over it: 429 with Retry-After. /healthz, /readyz and /metrics are never limited')
            [CompletionResult]::new('--rate-limit-token', '--rate-limit-token', [CompletionResultType]::ParameterName, 'Requests per token, counted per tree (copies, and the successors and split children this server issued, count with the token they came from): `N/s`, `N/m`, `N/h`, or `off`')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'The server''s own log lines on stderr: `text`, or `json` (one object per line, for a log collector). Colour only on a terminal, and never with NO_COLOR set')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Open connections at most; at the cap the oldest idle one is closed to make room')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'How long a client may take to send a request''s headers, or sit idle between requests')
            [CompletionResult]::new('--send-timeout', '--send-timeout', [CompletionResultType]::ParameterName, 'How long an answer may wait for the client to read it (a stalled reader''s connection is closed)')
            [CompletionResult]::new('--shutdown-grace', '--shutdown-grace', [CompletionResultType]::ParameterName, 'How long shutdown waits for in-flight requests before closing their connections')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve HTTPS: the certificate chain (PEM, leaf first) for --listen and --admin-listen. Re-read with --tls-key on SIGHUP (a renewed certificate needs no restart)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The private key (PEM) of --tls-cert; a private file (0600)')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Worker threads (default: one per core)')
            [CompletionResult]::new('--upstream', '--upstream', [CompletionResultType]::ParameterName, 'Meter this API: every request on --listen is priced, paid for and passed on to URL (http:// beside the API, or https:// with the certificate verified). The JSON API moves to --admin-listen')
            [CompletionResult]::new('--upstream-ca', '--upstream-ca', [CompletionResultType]::ParameterName, 'Trust only the CA certificates in FILE (PEM) for an https:// upstream, instead of the Mozilla roots built into crumb')
            [CompletionResult]::new('--price', '--price', [CompletionResultType]::ParameterName, 'Price a route: `METHOD /path=COST` (`*` for any method; a path covers what lies below it, by whole segments; the most specific rule wins); repeatable')
            [CompletionResult]::new('--prices', '--prices', [CompletionResultType]::ParameterName, 'Read price rules from FILE, one per line (`#` comments)')
            [CompletionResult]::new('--unpriced', '--unpriced', [CompletionResultType]::ParameterName, 'What to do with a request no rule prices: deny it (403), or let it through without a token')
            [CompletionResult]::new('--upstream-header', '--upstream-header', [CompletionResultType]::ParameterName, 'A header added to every upstream request, `Name: value`; `${VAR}` expands from the environment (keep the upstream''s credentials out of argv); repeatable')
            [CompletionResult]::new('--upstream-timeout', '--upstream-timeout', [CompletionResultType]::ParameterName, 'How long the upstream may take to start answering, or pause in the middle of an answer')
            [CompletionResult]::new('--admin-listen', '--admin-listen', [CompletionResultType]::ParameterName, 'With --upstream: serve the JSON API, /healthz, /metrics and /openapi.json here')
            [CompletionResult]::new('--audience', '--audience', [CompletionResultType]::ParameterName, 'The audience of every metered request, for `aud` caveats (default: the request''s Host, without port, which the client chooses)')
            [CompletionResult]::new('--realm', '--realm', [CompletionResultType]::ParameterName, 'The realm of the `WWW-Authenticate: Crumb` payment challenge')
            [CompletionResult]::new('--authz-mode', '--authz-mode', [CompletionResultType]::ParameterName, 'What /v1/authz does with a priced request: spend it, or verify only')
            [CompletionResult]::new('--authz-payment-status', '--authz-payment-status', [CompletionResultType]::ParameterName, 'The status /v1/authz answers when payment is needed: 401 (nginx passes only 401 and 403 on) or 402')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Check the configuration, print it as it would run (no secret shown) and exit: 0 when it is valid, 2 when not. Nothing is bound, created or opened')
            [CompletionResult]::new('--no-well-known', '--no-well-known', [CompletionResultType]::ParameterName, 'With --upstream: do not serve the holder routes (verify, split, revoke, give-back, status, lineage) under /.well-known/crumb/v1/ on --listen. The prefix is never passed to the upstream either way')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;request' {
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'The token file: read for the token, replaced by each successor')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'The method (default GET, or POST with --data)')
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'The method (default GET, or POST with --data)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'The body: DATA itself, @FILE, or @- for standard input')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The body: DATA itself, @FILE, or @- for standard input')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'A header `Name: value`; repeatable (not Authorization: the token file is the credential)')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'A header `Name: value`; repeatable (not Authorization: the token file is the credential)')
            [CompletionResult]::new('--idempotency-key', '--idempotency-key', [CompletionResultType]::ParameterName, 'The Idempotency-Key of this request (default: a new random one per run). A key this token file already paid with is answered from FILE.keys, never paid again')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait in all: for the answer, and for a request still in flight at the server')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the status and headers of the answer on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the status and headers of the answer on stderr')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Do not print `crumb: paid N, M left` on stderr after a payment')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Do not print `crumb: paid N, M left` on stderr after a payment')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;mcp' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The `crumb serve` that verifies, spends and splits (its JSON API, with any path prefix: a metering proxy''s public listener serves it under /.well-known/crumb). Without it, the local key and ledger are used')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Import a token file as entry NAME at start (unless the entry exists); repeatable')
            [CompletionResult]::new('--import-dir', '--import-dir', [CompletionResultType]::ParameterName, 'The directory handed-in tokens arrive in (token_receive takes them from there)')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'A directory token_handoff may write to, named ALIAS to the model; repeatable')
            [CompletionResult]::new('--allow-origin', '--allow-origin', [CompletionResultType]::ParameterName, 'An origin token_fetch may call (`https://api.example.com`, `http://127.0.0.1:8080`); repeatable. None: token_fetch calls nothing')
            [CompletionResult]::new('--max-cost', '--max-cost', [CompletionResultType]::ParameterName, 'The most one spend, fetch or handoff may cost, in credits')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'The most this process may pay or hand away in all, in credits')
            [CompletionResult]::new('--approve-above', '--approve-above', [CompletionResultType]::ParameterName, 'A spend, fetch, split or handoff above N credits needs a person''s yes, asked through the MCP host (elicitation); refused when the host cannot ask or the person declines')
            [CompletionResult]::new('--fetch-timeout', '--fetch-timeout', [CompletionResultType]::ParameterName, 'How long one token_fetch may take in all')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'The largest response body token_fetch returns to the model, in bytes (longer ones are cut)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;caveats' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;generate' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Directory to write into')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crumb;help' {
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Generate a root key and print its key id')
            [CompletionResult]::new('mint', 'mint', [CompletionResultType]::ParameterValue, 'Mint a token; prints it and a newline, nothing else on stdout')
            [CompletionResult]::new('attenuate', 'attenuate', [CompletionResultType]::ParameterValue, 'Add caveats to a token (no key needed); prints the narrower token')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a token''s location, identifier, caveats and warnings. No key needed; with a key, also whether the signature holds. The signature is hidden unless --show-signature. With --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and whether it is a revocable delegation, which the ledger records, not the token')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Verify a token''s signature and every caveat against a request')
            [CompletionResult]::new('discharge', 'discharge', [CompletionResultType]::ParameterValue, 'Mint a discharge macaroon for a third-party caveat, as the third party')
            [CompletionResult]::new('bind', 'bind', [CompletionResultType]::ParameterValue, 'Bind discharges to a token; prints each bound discharge on its own line')
            [CompletionResult]::new('spend', 'spend', [CompletionResultType]::ParameterValue, 'Spend COST from a token''s balance; prints the successor token')
            [CompletionResult]::new('split', 'split', [CompletionResultType]::ParameterValue, 'Split a token''s balance: one child per --amount plus a remainder child, each with every caveat of the parent; prints one token per line (the remainder last)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token by itself or by its nonce; verify and spend refuse it from then on')
            [CompletionResult]::new('give-back', 'give-back', [CompletionResultType]::ParameterValue, 'Give a split-off token''s whole balance back to the lineage it was split from')
            [CompletionResult]::new('top-up', 'top-up', [CompletionResultType]::ParameterValue, 'Add credit to a live token''s lineage, on this ledger (the operator''s): the lineage''s next spend, split or proxied request returns a successor carrying it, and the agent changes nothing')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show a token''s standing: live, spent, revoked or held; its balance and expiry; whether it is a revocable delegation; credit returned to its lineage; and what it delegated')
            [CompletionResult]::new('lineage', 'lineage', [CompletionResultType]::ParameterValue, 'Show the delegation tree a token belongs to: which token was spent into which successor, which was split into which children, with amounts, request ids, times, and what is live')
            [CompletionResult]::new('ledger', 'ledger', [CompletionResultType]::ParameterValue, 'The ledger''s upkeep')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the key, keyring, data directory and ledger (and a server), each finding with its fix')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream)')
            [CompletionResult]::new('request', 'request', [CompletionResultType]::ParameterValue, 'Send an HTTP request paid for by a token file, and keep the file rotated')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve the agent''s wallet to an MCP host over stdio: the agent pays, splits and delegates with wallet entries, and the model never sees a token')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script on stdout')
            [CompletionResult]::new('caveats', 'caveats', [CompletionResultType]::ParameterValue, 'The caveat language: what each caveat means and how it narrows a token')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write shell completions or man pages into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crumb;help;keygen' {
            break
        }
        'crumb;help;mint' {
            break
        }
        'crumb;help;attenuate' {
            break
        }
        'crumb;help;inspect' {
            break
        }
        'crumb;help;verify' {
            break
        }
        'crumb;help;discharge' {
            break
        }
        'crumb;help;bind' {
            break
        }
        'crumb;help;spend' {
            break
        }
        'crumb;help;split' {
            break
        }
        'crumb;help;revoke' {
            break
        }
        'crumb;help;give-back' {
            break
        }
        'crumb;help;top-up' {
            break
        }
        'crumb;help;status' {
            break
        }
        'crumb;help;lineage' {
            break
        }
        'crumb;help;ledger' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the ledger, or upgrade its schema, and say where it is')
            break
        }
        'crumb;help;ledger;init' {
            break
        }
        'crumb;help;doctor' {
            break
        }
        'crumb;help;serve' {
            break
        }
        'crumb;help;request' {
            break
        }
        'crumb;help;mcp' {
            break
        }
        'crumb;help;completions' {
            break
        }
        'crumb;help;caveats' {
            break
        }
        'crumb;help;generate' {
            break
        }
        'crumb;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
