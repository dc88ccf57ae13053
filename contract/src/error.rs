//! The error envelope: `{"error": {"code", "message", "request_id"}}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Stable, snake_case error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    InvalidId,
    MissingIdempotencyKey,
    Unauthenticated,
    Forbidden,
    /// An invitation that is unknown, used, expired, revoked, another group's or
    /// addressed to another user (one answer for all, so none is an oracle).
    InvitationInvalid,
    NotFound,
    UnknownRegion,
    /// Addition to the contract: the request reached a region that does not own the
    /// entity (only possible when calling a regional API directly, not via the router).
    Misdirected,
    EmailTaken,
    AlreadyMember,
    GroupFull,
    InsufficientPoints,
    /// (v1.2) A return of more of a bill's items than were bought and not yet returned.
    AlreadyReturned,
    /// Addition to the contract: a catalogue item on a bill or redemption is not available.
    ItemUnavailable,
    IdempotencyInProgress,
    /// Addition to the contract: one user owns as many groups in a region, or one group
    /// keeps as many invitations, as the deployment allows (a bound on what one account
    /// can make the platform store).
    LimitReached,
    /// Addition to the contract: an account is closed only once its user is in no group
    /// but their personal one (groups they own are handed over or left first).
    StillAMember,
    /// Addition to the contract: closing an account whose personal group holds points
    /// the closure did not agree to give up (`forfeit_points`, equal to the balance).
    PointsRemaining,
    PayloadTooLarge,
    /// Addition to the contract: a known path asked with a method it does not answer
    /// (the `Allow` header lists those it does).
    MethodNotAllowed,
    IdempotencyKeyReused,
    RateLimited,
    Internal,
    RegionUnavailable,
    Timeout,
}

impl ErrorCode {
    /// The code as the wire spells it (`insufficient_points`).
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidInput | InvalidId | MissingIdempotencyKey => 400,
            Unauthenticated => 401,
            Forbidden | InvitationInvalid => 403,
            NotFound | UnknownRegion => 404,
            EmailTaken
            | AlreadyMember
            | GroupFull
            | InsufficientPoints
            | AlreadyReturned
            | ItemUnavailable
            | IdempotencyInProgress
            | LimitReached
            | StillAMember
            | PointsRemaining => 409,
            Misdirected => 421,
            PayloadTooLarge => 413,
            MethodNotAllowed => 405,
            IdempotencyKeyReused => 422,
            RateLimited => 429,
            Internal => 500,
            RegionUnavailable => 503,
            Timeout => 504,
        }
    }
}

/// An answer that says the server did not read the request, so sending it again cannot
/// apply it twice, whatever it is: `408`. actix-web answers it, and closes, on a
/// connection that sent no request within its `client_request_timeout`; a client's pool
/// can hand such a connection (opened for a request that another one then took) to the
/// next request just as that answer arrives. No code above is a 408.
pub fn request_unread(status: u16) -> bool {
    status == 408
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub request_id: String,
}
