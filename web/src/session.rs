//! Who is at the browser: the session cookie's contents (the platform token, the user's
//! id and role) and the CSRF token every form carries back. The cookie is encrypted and
//! HttpOnly; the CSRF token is drawn per session and compared in constant time, so a
//! form posted from another site (or a replayed old page of another session) is refused.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use contract::UserId;
use contract::dto::{Role, Session as PlatformSession};
use futures_util::future::LocalBoxFuture;
use rand::RngCore;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::WebError;

const TOKEN: &str = "token";
const USER: &str = "user_id";
const ROLE: &str = "role";
const CSRF: &str = "csrf";

/// A logged-in user, as the platform told at login.
#[derive(Debug, Clone)]
pub struct Login {
    pub token: String,
    pub user_id: UserId,
    pub role: Role,
}

impl Login {
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Admin)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Every page's view of the session: its CSRF token (made on first sight) and the login,
/// if any.
pub struct Visitor {
    session: Session,
    pub csrf: String,
    pub login: Option<Login>,
}

fn new_csrf() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn read(session: &Session) -> Result<Visitor, WebError> {
    let csrf = match session.get::<String>(CSRF).map_err(WebError::session)? {
        Some(csrf) => csrf,
        None => {
            let csrf = new_csrf();
            session.insert(CSRF, &csrf).map_err(WebError::session)?;
            csrf
        }
    };
    let token = session.get::<String>(TOKEN).map_err(WebError::session)?;
    let user = session.get::<UserId>(USER).map_err(WebError::session)?;
    let role = session.get::<Role>(ROLE).map_err(WebError::session)?;
    let login = match (token, user, role) {
        (Some(token), Some(user_id), Some(role)) => Some(Login { token, user_id, role }),
        _ => None,
    };
    Ok(Visitor { session: session.clone(), csrf, login })
}

impl FromRequest for Visitor {
    type Error = WebError;
    type Future = Ready<Result<Visitor, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(read(&req.get_session()))
    }
}

impl Visitor {
    /// A posted form's CSRF token must be this session's.
    pub fn check(&self, posted: &str) -> Result<(), WebError> {
        if !posted.is_empty() && contract::secret::same(&self.csrf, posted) { Ok(()) } else { Err(WebError::Csrf) }
    }

    /// Starts a logged-in session: a new cookie (so a cookie planted before login is
    /// worth nothing after it) and a new CSRF token.
    pub fn log_in(&self, platform: &PlatformSession) -> Result<(), WebError> {
        self.session.renew();
        self.session.insert(TOKEN, &platform.token).map_err(WebError::session)?;
        self.session.insert(USER, &platform.user_id).map_err(WebError::session)?;
        self.session.insert(ROLE, platform.role).map_err(WebError::session)?;
        self.session.insert(CSRF, new_csrf()).map_err(WebError::session)?;
        Ok(())
    }

    pub fn log_out(&self) {
        self.session.purge();
    }
}

/// The Idempotency-Key of a bill or redemption the visitor is about to confirm. It is
/// drawn with the form that starts the attempt (the till's items, a pool's redeem form)
/// and travels in the review's URL, so the confirmation sent twice, or sent again after
/// the back button re-fetched the review, carries the same key and applies once.
pub fn attempt_key(raw: Option<&str>) -> Result<String, WebError> {
    let key = raw.unwrap_or("").trim();
    let shaped = (10..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if shaped {
        Ok(key.to_owned())
    } else {
        Err(WebError::Invalid("this form has no attempt key; start again from its page".to_owned()))
    }
}

/// A posted form whose CSRF token (field `csrf`) is this session's, checked before the
/// form's other fields are read: a forged post is refused the same way whatever it holds.
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Posted<T> {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let visitor = read(&req.get_session());
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            let visitor = visitor?;
            let body = body.await.map_err(|e| WebError::Invalid(format!("the form could not be read: {e}")))?;
            let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|e| WebError::Invalid(format!("the form could not be read: {e}")))?;
            let posted = fields.iter().find(|(name, _)| name == "csrf").map(|(_, value)| value.as_str());
            visitor.check(posted.unwrap_or(""))?;
            serde_urlencoded::from_bytes(&body)
                .map(Posted)
                .map_err(|e| WebError::Invalid(format!("the form is incomplete: {e}")))
        })
    }
}

/// A logged-in visitor, and the platform's client speaking with their token: what most
/// pages start from. Without a login, the visitor is sent to the login page.
pub struct Me {
    pub visitor: Visitor,
    pub login: Login,
    pub platform: client::Client,
}

/// The platform's client speaking for this visitor, without a login: sign-up, login.
pub struct Platform(pub client::Client);

impl FromRequest for Platform {
    type Error = WebError;
    type Future = Ready<Result<Platform, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>();
        ready(state.map(|s| Platform(s.platform_for(req))).ok_or(WebError::Session("no application state".to_owned())))
    }
}

/// A logged-in member of staff (or an admin); anyone else is refused.
pub struct Staff(pub Me);

/// A logged-in admin.
pub struct Admin(pub Me);

fn me(req: &HttpRequest) -> Result<Me, WebError> {
    let visitor = read(&req.get_session())?;
    let login = visitor.login.clone().ok_or(WebError::NotLoggedIn)?;
    let state = req.app_data::<web::Data<AppState>>().ok_or(WebError::Session("no application state".to_owned()))?;
    let platform = state.platform_for(req).with_token(&login.token);
    Ok(Me { visitor, login, platform })
}

impl FromRequest for Me {
    type Error = WebError;
    type Future = Ready<Result<Me, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(me(req))
    }
}

/// A role's page: `me` when the login has the role, else 403.
macro_rules! role_extractor {
    ($role:ident, $has:ident, $refusal:literal) => {
        impl FromRequest for $role {
            type Error = WebError;
            type Future = Ready<Result<$role, WebError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(
                    me(req).and_then(
                        |me| if me.login.$has() { Ok($role(me)) } else { Err(WebError::Forbidden($refusal)) },
                    ),
                )
            }
        }
    };
}

role_extractor!(Staff, is_staff, "this page is for staff");
role_extractor!(Admin, is_admin, "this page is for admins");
