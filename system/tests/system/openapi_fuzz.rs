//! The OpenAPI document as a stranger would use it: schemathesis (from PyPI; `make test`
//! installs it into a venv and sets LOYALTY_SCHEMATHESIS) generates requests from the
//! router's `/openapi.json` for every operation, with a customer's token, and checks
//! every answer against the document: no server error, every status and body documented,
//! every parameter declared. The stateful phase chains operations through their links.
//! `infra/local/schemathesis.toml` lists, with reasons, the few places where the document
//! cannot say why a schema-valid request is refused.

use std::process::Command;

use crate::support::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_document_true() {
    let Ok(st) = std::env::var("LOYALTY_SCHEMATHESIS") else {
        panic!("set LOYALTY_SCHEMATHESIS to schemathesis's `st` (infra/local/test.sh installs it into .local)");
    };
    let stack = Stack::start(1);
    let (_, token) = stack.customer("001").await;
    let report = stack.state.join("schemathesis");
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/schemathesis.toml");
    let output = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", stack.router)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        // One worker: with two, hypothesis's threads parse sources at once, and CPython
        // 3.11's parser counts its recursion in state the threads share (gh-106905): a
        // run failed with "AST constructor recursion depth mismatch", not a finding.
        .args(["--checks", "all", "--max-examples", "25", "--workers", "1", "--max-failures", "50"])
        .args(["--seed", "20261201", "--request-timeout", "15"])
        .arg("--report-dir")
        .arg(&report)
        .env("NO_COLOR", "1")
        // Its crash cache (`.schemathesis/`) goes with the stack, not into the source tree,
        // so no earlier run's findings are replayed.
        .current_dir(&stack.state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found failures (above)");
}
