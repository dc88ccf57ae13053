//! What a stack's services logged at ERROR. Each is a fault of ours (an internal error,
//! a conflict the design rules out), so a test that passes with one does not pass: a
//! points batch that failed and was quietly run again job by job once hid such a bug
//! behind right answers. A client's malformed request is the one exception: actix-http
//! logs it at ERROR and answers 400. Faults a test makes on purpose are not ours: a
//! database the drills stop is logged at WARN (`api/src/db/connection.rs` `PoolErrors`).

use std::path::Path;

/// Every ERROR line of the logs in `dir`, each after its file's name.
pub fn errors(dir: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let name = entry.file_name().to_string_lossy().into_owned();
        errors.extend(
            text.lines()
                .filter(|l| l.contains(" ERROR ") && !l.contains("stream error: request parse error"))
                .map(|l| format!("{name}: {l}")),
        );
    }
    errors
}
