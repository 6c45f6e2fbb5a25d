//! Completions and man pages are generated from the clap definitions and committed; this
//! fails when they are stale. Regenerate with:
//! `crumb generate completions --dir completions && crumb generate man --dir man`

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn check(what: &str) {
    let env = common::Env::new();
    let fresh = env.path(what);
    env.ok(&["generate", if what == "man" { "man" } else { "completions" }, "--dir", fresh.to_str().unwrap()]);
    let committed = files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(what));
    let fresh = files(&fresh);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "{what}/ has other files than the CLI generates; regenerate it"
    );
    for (name, bytes) in &fresh {
        assert!(committed[name] == *bytes, "{what}/{name} is stale; regenerate it (see this test's header)");
    }
}

#[test]
fn completions_are_current() {
    check("completions");
}

#[test]
fn man_pages_are_current() {
    check("man");
}

#[test]
fn completions_print_on_stdout_as_committed() {
    let env = common::Env::new();
    let committed =
        |name: &str| std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("completions").join(name));
    for (shell, file) in [("bash", "crumb.bash"), ("zsh", "_crumb"), ("fish", "crumb.fish")] {
        let printed = env.ok(&["completions", shell]);
        assert_eq!(
            printed,
            committed(file).unwrap().trim(),
            "crumb completions {shell} differs from completions/{file}"
        );
    }
    let (code, _, err) = env.run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}

#[test]
fn the_caveat_grammar_is_in_the_binary_not_only_the_readme() {
    let env = common::Env::new();
    let help = env.ok(&["help", "caveats"]);
    for needle in ["resource prefix /apps/42", "max-cost <= 5", "balance <=", "not-before >=", "fail closed"] {
        assert!(help.contains(needle), "`crumb help caveats` lacks {needle}: {help}");
    }
    assert_eq!(env.ok(&["caveats"]).lines().next(), help.lines().find(|l| l.starts_with("The caveat language")));
    let mint_help = env.ok(&["mint", "--help"]);
    assert!(!mint_help.contains("README"), "an installed user has no README: {mint_help}");
    assert!(mint_help.contains("crumb help caveats"), "{mint_help}");
}

#[test]
fn help_and_man_pages_name_the_environment_files_and_examples() {
    let env = common::Env::new();
    let help = env.ok(&["--help"]);
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for var in ["CRUMB_DATA_DIR", "CRUMB_KEY_FILE", "CRUMB_KEYRING", "CRUMB_LEDGER", "CRUMB_LOG"] {
        assert!(help.contains(var), "--help does not name {var}");
        let page = std::fs::read_to_string(man.join("crumb.1")).unwrap();
        assert!(page.contains(var), "crumb(1) does not name {var}");
    }
    for entry in std::fs::read_dir(&man).unwrap() {
        let page = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for section in [".SH ENVIRONMENT", ".SH FILES", ".SH EXIT STATUS"] {
            assert!(page.contains(section), "a man page lacks {section}");
        }
    }
    for sub in ["mint", "attenuate", "verify", "spend", "split", "revoke", "lineage", "serve"] {
        let page = std::fs::read_to_string(man.join(format!("crumb-{sub}.1"))).unwrap();
        assert!(page.contains(".SH EXAMPLES"), "crumb-{sub}(1) has no EXAMPLES");
        let sub_help = env.ok(&[sub, "--help"]);
        assert!(sub_help.contains("Examples:"), "crumb {sub} --help shows no examples");
    }
}

#[test]
fn licenses_match_the_manifest_and_a_changelog_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(r#"license = "MIT OR Apache-2.0""#));
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT")).unwrap();
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = std::fs::read_to_string(root.join("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0"));
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    assert!(changelog.contains("## [0.1.0]") || changelog.contains("## [Unreleased]"));
}
