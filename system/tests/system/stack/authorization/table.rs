//! The rows of `data/authorization.txt`, and the requests of those that revoke the named
//! user's tokens (each cell names a new user, who is then `self`).

use reqwest::Method;
use serde_json::{Value, json};

use super::Person;
use crate::support::PASSWORD;

pub const KINDS: [&str; 9] =
    ["anonymous", "self", "other_customer", "member", "redeemer", "owner", "staff", "staff_other", "admin"];

pub struct Row {
    pub method: Method,
    /// The route as the OpenAPI document names it.
    pub path: String,
    /// `path#variant`: the same route with another body.
    pub label: String,
    pub expected: Vec<u16>,
}

pub fn table() -> Vec<Row> {
    let text = include_str!("../../data/authorization.txt");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                fields.len(),
                2 + KINDS.len(),
                "a row has a method, a route and {} statuses: {line}",
                KINDS.len()
            );
            let label = fields[1].to_owned();
            Row {
                method: fields[0].parse().unwrap(),
                path: label.split('#').next().unwrap().to_owned(),
                label,
                expected: fields[2..].iter().map(|s| s.parse().unwrap()).collect(),
            }
        })
        .collect()
}

/// The rows that revoke the named user's tokens.
pub const REVOKING: [&str; 5] = [
    "/v1/users/{uid}/sessions",
    "/v1/users/{uid}/sessions#all",
    "/v1/users/{uid}#role",
    "/v1/users/{uid}/password",
    "/v1/users/{uid}#close",
];

/// The request of a row that revokes `victim`'s tokens (logout, role or password change,
/// closing the account).
pub fn revoking_request(row: &Row, victim: &Person) -> (String, Option<Value>, bool) {
    let user = format!("/v1/users/{}", victim.user.id);
    match row.label.as_str() {
        "/v1/users/{uid}/sessions" => (format!("{user}/sessions"), None, false),
        "/v1/users/{uid}/sessions#all" => (format!("{user}/sessions?all=true"), None, false),
        "/v1/users/{uid}#role" => (user, Some(json!({"role": "staff"})), false),
        "/v1/users/{uid}/password" => {
            let change = json!({"current_password": PASSWORD, "new_password": "a new passphrase"});
            (format!("{user}/password"), Some(change), false)
        }
        "/v1/users/{uid}#close" => (user, Some(json!({"current_password": PASSWORD})), false),
        other => panic!("not a revoking row: {other}"),
    }
}
