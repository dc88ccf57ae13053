//! The authenticated caller: who a verified token names (`routes::extract` makes one
//! from a request).

use contract::dto::Role;
use contract::{Regional, UserId};

use crate::auth::Claims;

#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    /// The token it came with (a logout revokes exactly that one).
    pub claims: Claims,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_staff_or_admin(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Admin)
    }

    /// Staff manage their own region's catalogue; admins every region's.
    pub fn manages_region(&self, region: contract::RegionId) -> bool {
        self.is_admin() || (self.role == Role::Staff && self.user_id.region() == region)
    }

    pub fn is(&self, user: &UserId) -> bool {
        &self.user_id == user
    }
}
