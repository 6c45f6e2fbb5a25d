//! Completions and man pages are generated from the clap definitions and committed; this
//! fails when they are stale. Regenerate with:
//! `crumb generate completions --dir completions && crumb generate man --dir man`

mod common;

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
