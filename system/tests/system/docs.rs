//! The documents a newcomer reads first name files that exist: every path in backticks
//! in the README and the operations documents that starts at one of the repository's
//! top-level folders. (BENCHMARKS.md is a history and names files of earlier commits.)

use std::collections::BTreeSet;
use std::path::Path;

const DOCUMENTS: [&str; 3] = ["README.md", "docs/FAILURES.md", "docs/DEPLOY.md"];

/// The backticked words of `text` that look like paths under one of `folders`.
fn paths<'a>(text: &'a str, folders: &BTreeSet<String>) -> Vec<&'a str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|word| word.trim_end_matches(['/', ':']))
        .filter(|word| !word.contains([' ', '*', '{', '<', '$']))
        .filter(|word| word.split_once('/').is_some_and(|(top, _)| folders.contains(top)))
        .collect()
}

#[test]
fn the_readme_and_operations_documents_name_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let folders: BTreeSet<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && name != "target")
        .collect();
    let mut missing = Vec::new();
    let mut checked = 0;
    for document in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(document)).unwrap();
        for path in paths(&text, &folders) {
            checked += 1;
            if !root.join(path).exists() {
                missing.push(format!("{document}: `{path}`"));
            }
        }
    }
    assert!(checked > 30, "the documents name only {checked} paths: is the reader broken?");
    assert!(missing.is_empty(), "paths that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn the_reader_takes_paths_under_known_folders_only() {
    let folders: BTreeSet<String> = ["api", "infra"].into_iter().map(String::from).collect();
    let text = "see `api/src/main.rs`, `infra/local/` and `make up`, not `web/x.rs` or `api/src/{a,b}.rs`";
    assert_eq!(paths(text, &folders), ["api/src/main.rs", "infra/local"]);
}
