//! What the client did and learned: every write with its key and outcome. The checker
//! compares this with what the platform's ledgers say.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Bill,
    Redeem,
    Return,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// 201: the platform says it applied the write as ledger entry `entry_id`.
    Applied { entry_id: String, points: i64 },
    /// A definite refusal (4xx): nothing may have been applied.
    Refused { status: u16, code: String },
    /// Never answered; resolved at the end by retrying with the same key.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct WriteRecord {
    pub kind: WriteKind,
    pub caller: String,
    pub key: String,
    pub group: String,
    pub outcome: Outcome,
    /// For writes sent twice: whether the second answer repeated the first exactly.
    pub replay_matched: Option<bool>,
    /// An applied bill's offer, as its answer named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// A return's bill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct History {
    pub writes: Vec<WriteRecord>,
}
