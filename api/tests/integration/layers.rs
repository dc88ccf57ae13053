//! The API's modules depend on each other in one direction only: routes → services →
//! db / domain / auth, nothing back, and no cycle between any two files. Read from the
//! `use crate::…` lines of `api/src`, so a new import that breaks the layering fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed read should stop the test loudly

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Which top-level modules each may use (besides itself). `startup` wires them all.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("config", &["error"]),
    ("domain", &["error"]),
    ("auth", &["config", "error", "domain"]),
    ("db", &["config", "domain", "error"]),
    ("services", &["auth", "config", "db", "domain", "error"]),
    ("routes", &["auth", "config", "db", "domain", "error", "services"]),
    ("startup", &["auth", "config", "db", "domain", "error", "routes", "services"]),
    ("lib", &["config", "startup"]),
    ("main", &[]),
];

/// Every `.rs` file under `dir` as (module path, source).
fn modules(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            modules(&path, &format!("{prefix}{name}::"), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let module = match name.as_str() {
                "mod" => prefix.trim_end_matches("::").to_owned(),
                _ => format!("{prefix}{name}"),
            };
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The paths a source names in `use crate::…;` statements, groups expanded.
fn used_paths(source: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("use crate::") {
        let body = &rest[start + "use crate::".len()..];
        let end = body.find(';').unwrap();
        expand("", &body[..end], &mut paths);
        rest = &body[end..];
    }
    paths
}

fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(prefix, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(prefix, &inner[start..], out);
    } else if let Some((head, tail)) = tree.split_once("::") {
        expand(&format!("{prefix}{}::", head.trim()), tail, out);
    } else if !tree.is_empty() {
        out.push(format!("{prefix}{}", tree.split(" as ").next().unwrap().trim()));
    }
}

/// File-to-file dependencies: each used path resolved to the longest module it names. A
/// module using its own ancestors (`services::points` → `services`) is not an edge.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut sources = BTreeMap::new();
    modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut sources);
    let mut graph = BTreeMap::new();
    for (module, source) in &sources {
        let mut deps = BTreeSet::new();
        for path in used_paths(source) {
            let parts: Vec<&str> = path.split("::").collect();
            let target = (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| sources.contains_key(m));
            if let Some(target) = target
                && &target != module
                && !module.starts_with(&format!("{target}::"))
            {
                deps.insert(target);
            }
        }
        graph.insert(module.clone(), deps);
    }
    graph
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, deps) in graph() {
        let may = allowed.get(top(&module)).unwrap_or_else(|| panic!("module {module} is not in ALLOWED"));
        for dep in deps {
            if top(&dep) != top(&module) && !may.contains(&top(&dep)) {
                wrong.push(format!("{module} uses {dep}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_files_depend_on_each_other() {
    let graph = graph();
    // Depth-first search; a node met again while still on the path closes a cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(path[at..].iter().map(|n| n.to_string()).chain([node.to_owned()]).collect());
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(dep, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("an import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_reader_finds_grouped_and_nested_imports() {
    let source = "use crate::db::{Db, points::{Stored, Render}};\nuse crate::error::ApiError as E;\nuse std::fmt;";
    assert_eq!(used_paths(source), ["db::Db", "db::points::Stored", "db::points::Render", "error::ApiError"]);
}
