//! The dependency direction of DESIGN.md section 1, read from `cargo metadata`.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::collections::{BTreeMap, BTreeSet};

fn workspace_edges() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string());
            (p["name"].as_str().unwrap().to_string(), deps.collect())
        })
        .collect()
}

/// Returns every forbidden edge `package -> dependency` (normal, dev and build dependencies).
fn forbidden(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let ours = |d: &str| d.starts_with("bacon-");
    let plugin = |d: &str| d.starts_with("bacon-plugin-") && d != "bacon-plugin-sdk";
    let framework = |d: &str| d == "axum" || d.starts_with("apalis") || d.starts_with("utoipa");
    let mut found = Vec::new();
    for (package, deps) in edges {
        // A package may dev-depend on itself to turn on a feature for its own tests.
        for dep in deps.iter().filter(|d| *d != package) {
            let bad = match package.as_str() {
                "bacon-plugin-sdk" => ours(dep),
                p if plugin(p) => ours(dep) && dep != "bacon-plugin-sdk",
                "bacon-entities" => ours(dep),
                "bacon-migration" => ours(dep),
                "bacon-engine" => framework(dep) || plugin(dep) || dep == "bacon-worker" || dep == "bacon-api",
                "bacon-worker" => plugin(dep) || dep == "bacon-api" || dep == "axum" || dep.starts_with("utoipa"),
                "bacon-api" => dep == "bacon-tests" || dep == "bacon-openapi",
                _ => false,
            };
            if bad {
                found.push(format!("{package} -> {dep}"));
            }
        }
    }
    found
}

#[test]
fn no_forbidden_dependency_edges() {
    let edges = workspace_edges();
    for expected in
        ["bacon-api", "bacon-engine", "bacon-worker", "bacon-entities", "bacon-migration", "bacon-plugin-sdk"]
    {
        assert!(edges.contains_key(expected), "{expected} is a workspace member");
    }
    let found = forbidden(&edges);
    assert!(found.is_empty(), "DESIGN.md section 1 forbids these edges:\n{}", found.join("\n"));
}

#[test]
fn the_check_catches_a_forbidden_edge() {
    let mut edges = BTreeMap::new();
    edges.insert("bacon-engine".to_string(), BTreeSet::from(["axum".to_string(), "bacon-plugin-http".to_string()]));
    edges.insert("bacon-plugin-sdk".to_string(), BTreeSet::from(["bacon-engine".to_string()]));
    edges.insert("bacon-migration".to_string(), BTreeSet::from(["bacon-entities".to_string()]));
    assert_eq!(forbidden(&edges).len(), 4);
}
