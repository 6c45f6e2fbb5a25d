//! The README's tour runs exactly as written. Every ```console block of README.md is taken
//! from the README itself (never a copy): its `$ ` lines are run in order by one fresh bash
//! with only the built `crumb` on PATH, and what they print must match the lines shown under
//! them, after volatile values (tokens, nonces, key ids, times, temp paths) are masked. An
//! `[exit N]` line states a command's exit code (0 when absent).
//!
//! `CRUMB_UPDATE_README=1 cargo test --test tests readme_tour` rewrites the blocks with real output.

use regex_lite::Regex;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One `$ ` command and the output the README shows for it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
    exit: i32,
}

/// A console block: where it sits in the README, and its steps.
struct Block {
    start: usize,
    end: usize,
    steps: Vec<Step>,
}

fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

fn parse_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```console" {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while lines[end].trim_end() != "```" {
            end += 1;
        }
        blocks.push(Block { start, end, steps: parse_steps(&lines[start..end]) });
        i = end + 1;
    }
    blocks
}

fn parse_steps(lines: &[&str]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continuing = false;
    for line in lines {
        if continuing {
            let step = steps.last_mut().unwrap();
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step { command: command.to_owned(), expected: Vec::new(), exit: 0 });
            continuing = line.ends_with('\\');
        } else if let Some(code) = line.strip_prefix("[exit ").and_then(|r| r.strip_suffix(']')) {
            steps.last_mut().expect("output before any command").exit = code.parse().unwrap();
        } else {
            steps.last_mut().expect("output before any command").expected.push(line.to_string());
        }
    }
    steps
}

/// Runs every step in one bash; returns each step's (output lines, exit code).
fn run_steps(steps: &[&Step]) -> Vec<(Vec<String>, i32)> {
    let scratch = tempfile::tempdir().unwrap();
    // The README's commands run from a checkout: its examples are there.
    std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), scratch.path().join("examples"))
        .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("crumb");
    let path = format!("{}:/usr/bin:/bin", bin.parent().unwrap().display());
    // Servers the tour starts in the background are stopped however it ends (a drifted step
    // must not leave them holding the tour's ports for the next run).
    let mut script = String::from("set +e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n");
    for (i, step) in steps.iter().enumerate() {
        // A comment alone is a step too (it shows in the README); bash needs a command in braces.
        let command = if step.command.trim_start().starts_with('#') { ":" } else { &step.command };
        script.push_str(&format!("echo '@@step {i}'\n{{ {command}\n}} 2>&1\necho \"@@exit $?\"\n"));
    }
    let out = Command::new("bash")
        .arg("--norc")
        .arg("--noprofile")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", scratch.path())
        .env("TMPDIR", scratch.path())
        .env("LANG", "C.UTF-8")
        // The README shows what a terminal shows: boxed tables (a pipe gets plain columns).
        .env("CRUMB_TABLES", "box")
        .current_dir(scratch.path())
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut results: Vec<(Vec<String>, i32)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("@@step ") {
            results.push((Vec::new(), 0));
        } else if let Some(code) = line.strip_prefix("@@exit ") {
            results.last_mut().unwrap().1 = code.parse().unwrap();
        } else if let Some(last) = results.last_mut() {
            last.0.push(line.to_string());
        }
    }
    assert_eq!(results.len(), steps.len(), "the tour stopped early: {}", String::from_utf8_lossy(&out.stderr));
    results
}

/// Masks what differs from run to run, keeping everything a reader would check.
fn mask(line: &str) -> String {
    static PATTERNS: &[(&str, &str)] = &[
        (r"[A-Za-z0-9_-]{60,}", "<token>"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>"),
        (r"[0-9a-f]{16,}", "<hex>"),
        (r"/[^ ]*/tmp\.[A-Za-z0-9]+", "<dir>"),
    ];
    let mut out = line.trim_end().to_string();
    for (pattern, replacement) in PATTERNS {
        out = Regex::new(pattern).unwrap().replace_all(&out, *replacement).into_owned();
    }
    // Masking changes widths; tables then differ only in padding, which is not content.
    Regex::new(r" {2,}").unwrap().replace_all(&out, " ").into_owned()
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme = std::fs::read_to_string(readme_path()).unwrap();
    let blocks = parse_blocks(&readme);
    assert!(blocks.len() >= 2, "the README lost its console blocks");
    let steps: Vec<&Step> = blocks.iter().flat_map(|b| &b.steps).collect();
    assert!(steps.len() >= 20, "the tour is too short to be a tour: {} commands", steps.len());
    let results = run_steps(&steps);
    if std::env::var_os("CRUMB_UPDATE_README").is_some() {
        return rewrite(&readme, &blocks, &results);
    }
    let mut failures = Vec::new();
    for (step, (actual, exit)) in steps.iter().zip(&results) {
        let want: Vec<String> = step.expected.iter().map(|l| mask(l)).collect();
        let got: Vec<String> = actual.iter().map(|l| mask(l)).collect();
        if want != got || step.exit != *exit {
            failures.push(format!(
                "$ {}\n--- README (exit {}):\n{}\n--- actual (exit {exit}):\n{}",
                step.command,
                step.exit,
                step.expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "the README's tour drifted from what crumb does (CRUMB_UPDATE_README=1 rewrites it):\n\n{}",
        failures.join("\n\n")
    );
}

fn rewrite(readme: &str, blocks: &[Block], results: &[(Vec<String>, i32)]) {
    let mut lines: Vec<String> = readme.lines().map(str::to_owned).collect();
    let mut results = results.iter();
    // Back to front, so earlier blocks keep their line numbers.
    let mut rendered: Vec<(usize, usize, Vec<String>)> = Vec::new();
    for block in blocks {
        let mut body = Vec::new();
        for step in &block.steps {
            let (output, exit) = results.next().unwrap();
            body.extend(
                step.command.lines().enumerate().map(|(i, l)| if i == 0 { format!("$ {l}") } else { l.into() }),
            );
            body.extend(output.iter().map(|l| l.trim_end().to_owned()));
            if *exit != 0 {
                body.push(format!("[exit {exit}]"));
            }
        }
        rendered.push((block.start, block.end, body));
    }
    for (start, end, body) in rendered.into_iter().rev() {
        lines.splice(start..end, body);
    }
    std::fs::write(readme_path(), lines.join("\n") + "\n").unwrap();
}
