//! Whole-system tests live in `tests/system/`; this crate has no code of its own.
