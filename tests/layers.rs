//! The collector's layering, checked so it cannot quietly erode (see `collector/README.md`):
//!
//! - the core depends on no async runtime, database, HTTP client or server, gRPC or
//!   metrics registry (its normal and build dependency tree, on every target);
//! - the store and the desks depend on the core and never on each other or on the binary;
//! - no crate but the store names a database engine in its source.
//!
//! The dependency facts come from `cargo tree` (from `Cargo.lock`, every target: it may
//! fetch the sources of another platform's dependencies once), not from a list kept by
//! hand.

use std::path::Path;
use std::process::Command;

use tilsyn_e2e::repo_root;

/// The crates that do I/O: none of them may appear in the core's tree.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "reqwest",
    "hyper",
    "h2",
    "tonic",
    "axum",
    "prometheus",
];

/// The packages in `pkg`'s dependency tree (normal and build edges, every target).
fn tree(pkg: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo_root())
        .args([
            "tree",
            "--locked",
            "-p",
            pkg,
            "-e",
            "normal,build",
            "--target",
            "all",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {pkg} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_core_depends_on_nothing_that_does_io() {
    let deps = tree("tilsyn-collector-core");
    // A sanity check that the tree was read at all: the core does use these.
    for used in ["serde_yaml", "jiff", "tilsyn-proto"] {
        assert!(
            deps.iter().any(|d| d == used),
            "{used} missing from {deps:?}"
        );
    }
    let bad: Vec<&String> = deps
        .iter()
        .filter(|d| IO_CRATES.contains(&d.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "tilsyn-collector-core must stay pure, but its tree has {bad:?}; \
         move the code that needs them to the store, the desks or the collector \
         (`cargo tree -p tilsyn-collector-core -i <crate>` shows the path)"
    );
}

#[test]
fn store_and_desks_build_on_the_core_only() {
    let store = tree("tilsyn-collector-store");
    let desks = tree("tilsyn-collector-desks");
    for (name, deps, not) in [
        (
            "tilsyn-collector-store",
            &store,
            ["tilsyn-collector-desks", "tilsyn-collector", "reqwest"],
        ),
        (
            "tilsyn-collector-desks",
            &desks,
            ["tilsyn-collector-store", "tilsyn-collector", "rusqlite"],
        ),
    ] {
        assert!(
            deps.iter().any(|d| d == "tilsyn-collector-core"),
            "{name} builds on the core"
        );
        for n in not {
            assert!(
                !deps.iter().any(|d| d == n),
                "{name} must not depend on {n} (the layers: core <- store, core <- desks, all <- collector)"
            );
        }
    }
}

/// Rust source files under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn only_the_store_names_a_database_engine() {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in [
        "collector/src",
        "collector/benches",
        "collector/core/src",
        "collector/desks/src",
        "agent/src",
        "tests",
    ] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "too few sources found: {}", files.len());
    let this = root.join("tests/layers.rs");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| **f != this) {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for engine in [
                "rusqlite",
                "SqliteStore",
                "sqlx",
                "tokio_postgres",
                "PgStore",
                "postgres::Client",
            ] {
                if line.contains(engine) {
                    found.push(format!("{}:{}: {engine}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "only collector/store names a database engine; open a store with \
         tilsyn_collector_store::open(&cfg.store) instead:\n{}",
        found.join("\n")
    );
}
