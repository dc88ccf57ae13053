//! The public API (`/v1`), one function per endpoint. Writes that move points take the
//! caller's Idempotency-Key: a retry (here or by the caller) sends the same one.

use std::fmt::Display;

use contract::dto::{
    AccountClosure, ActivityPage, Bill, BillQuote, Catalogue, CatalogueItem, CatalogueItemPatch, Discount,
    DiscountPatch, Discounts, EmailQuery, Group, GroupPatch, Invitation, InvitationSummary, LedgerEntry, MemberPatch,
    Membership, NewBill, NewCatalogueItem, NewDiscount, NewGroup, NewInvitation, NewMember, NewOffer, NewRedemption,
    NewReturn, NewSession, NewUser, Offer, Offers, Page, PasswordChange, Receipt, Redemption, Regions, Return, Session,
    User, UserGroups, UserPatch,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::endpoints::{self, Endpoint};
use crate::{Client, Reply, Result};

/// `?limit=N&cursor=C` of a paginated list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Serialize)]
struct LogOutQuery {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    all: bool,
}

const NO_BODY: Option<&()> = None;

fn method(endpoint: &Endpoint) -> Method {
    Method::from_bytes(endpoint.method.as_bytes()).unwrap_or(Method::GET)
}

impl Client {
    async fn read<T: DeserializeOwned>(&self, endpoint: Endpoint, path: String) -> Result<Reply<T>> {
        self.call(method(&endpoint), &path, None, NO_BODY).await
    }

    async fn write<T: DeserializeOwned, B: Serialize>(
        &self,
        endpoint: Endpoint,
        path: String,
        key: Option<&str>,
        body: Option<&B>,
    ) -> Result<Reply<T>> {
        self.call(method(&endpoint), &path, key, body).await
    }

    pub async fn regions(&self) -> Result<Reply<Regions>> {
        let path = endpoints::REGIONS.path(&[]);
        self.read(endpoints::REGIONS, path).await
    }

    /// Signs up; with an admin token, `new.role` may make staff or an admin.
    pub async fn sign_up(&self, new: &NewUser) -> Result<Reply<User>> {
        let path = endpoints::SIGN_UP.path(&[]);
        self.write(endpoints::SIGN_UP, path, None, Some(new)).await
    }

    /// (staff, admin) The user with `email`, in any case.
    pub async fn find_user(&self, email: &str) -> Result<Reply<User>> {
        let path = endpoints::FIND_USER.path_with_query(&[], &EmailQuery { email: email.to_owned() });
        self.read(endpoints::FIND_USER, path).await
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Result<Reply<Session>> {
        let body = NewSession { email: email.to_owned(), password: password.to_owned() };
        let path = endpoints::LOG_IN.path(&[]);
        self.write(endpoints::LOG_IN, path, None, Some(&body)).await
    }

    pub async fn user(&self, uid: impl Display) -> Result<Reply<User>> {
        let path = endpoints::USER.path(&[&uid]);
        self.read(endpoints::USER, path).await
    }

    pub async fn update_user(&self, uid: impl Display, patch: &UserPatch) -> Result<Reply<User>> {
        let path = endpoints::UPDATE_USER.path(&[&uid]);
        self.write(endpoints::UPDATE_USER, path, None, Some(patch)).await
    }

    /// Revokes the token presented, or with `all` every token of the user.
    pub async fn log_out(&self, uid: impl Display, all: bool) -> Result<Reply<()>> {
        let path = endpoints::LOG_OUT.path_with_query(&[&uid], &LogOutQuery { all });
        self.write(endpoints::LOG_OUT, path, None, NO_BODY).await
    }

    /// Changes the password and so revokes every token of the user, this client's too.
    /// `current` is the password now; an admin resetting another user's leaves it out.
    pub async fn change_password(&self, uid: impl Display, current: Option<&str>, new: &str) -> Result<Reply<()>> {
        let body = PasswordChange { current_password: current.map(str::to_owned), new_password: new.to_owned() };
        let path = endpoints::CHANGE_PASSWORD.path(&[&uid]);
        self.write(endpoints::CHANGE_PASSWORD, path, None, Some(&body)).await
    }

    /// Closes the account, erasing what identifies its user, and so revokes every token
    /// of theirs, this client's too. `current` is the password now; an admin closing a
    /// customer's account leaves it out.
    pub async fn close_account(&self, uid: impl Display, closure: &AccountClosure) -> Result<Reply<()>> {
        let path = endpoints::CLOSE_ACCOUNT.path(&[&uid]);
        self.write(endpoints::CLOSE_ACCOUNT, path, None, Some(closure)).await
    }

    pub async fn user_groups(&self, uid: impl Display) -> Result<Reply<UserGroups>> {
        let path = endpoints::USER_GROUPS.path(&[&uid]);
        self.read(endpoints::USER_GROUPS, path).await
    }

    pub async fn activity(&self, uid: impl Display, page: &PageQuery) -> Result<Reply<ActivityPage>> {
        let path = endpoints::ACTIVITY.path_with_query(&[&uid], page);
        self.read(endpoints::ACTIVITY, path).await
    }

    pub async fn create_group(&self, new: &NewGroup) -> Result<Reply<Group>> {
        let path = endpoints::CREATE_GROUP.path(&[]);
        self.write(endpoints::CREATE_GROUP, path, None, Some(new)).await
    }

    pub async fn group(&self, gid: impl Display) -> Result<Reply<Group>> {
        let path = endpoints::GROUP.path(&[&gid]);
        self.read(endpoints::GROUP, path).await
    }

    pub async fn update_group(&self, gid: impl Display, patch: &GroupPatch) -> Result<Reply<Group>> {
        let path = endpoints::UPDATE_GROUP.path(&[&gid]);
        self.write(endpoints::UPDATE_GROUP, path, None, Some(patch)).await
    }

    /// Joins `gid` as `new.user_id` with `new.invitation` (admins need none).
    pub async fn join(&self, gid: impl Display, new: &NewMember) -> Result<Reply<Membership>> {
        let path = endpoints::JOIN.path(&[&gid]);
        self.write(endpoints::JOIN, path, None, Some(new)).await
    }

    pub async fn change_member(
        &self,
        gid: impl Display,
        uid: impl Display,
        patch: &MemberPatch,
    ) -> Result<Reply<Membership>> {
        let path = endpoints::CHANGE_MEMBER.path(&[&gid, &uid]);
        self.write(endpoints::CHANGE_MEMBER, path, None, Some(patch)).await
    }

    pub async fn remove_member(&self, gid: impl Display, uid: impl Display) -> Result<Reply<()>> {
        let path = endpoints::REMOVE_MEMBER.path(&[&gid, &uid]);
        self.write(endpoints::REMOVE_MEMBER, path, None, NO_BODY).await
    }

    pub async fn invite(&self, gid: impl Display, new: &NewInvitation) -> Result<Reply<Invitation>> {
        let path = endpoints::INVITE.path(&[&gid]);
        self.write(endpoints::INVITE, path, None, Some(new)).await
    }

    pub async fn invitations(&self, gid: impl Display, page: &PageQuery) -> Result<Reply<Page<InvitationSummary>>> {
        let path = endpoints::INVITATIONS.path_with_query(&[&gid], page);
        self.read(endpoints::INVITATIONS, path).await
    }

    pub async fn revoke_invitation(&self, gid: impl Display, iid: impl Display) -> Result<Reply<()>> {
        let path = endpoints::REVOKE_INVITATION.path(&[&gid, &iid]);
        self.write(endpoints::REVOKE_INVITATION, path, None, NO_BODY).await
    }

    pub async fn transactions(&self, gid: impl Display, page: &PageQuery) -> Result<Reply<Page<LedgerEntry>>> {
        let path = endpoints::TRANSACTIONS.path_with_query(&[&gid], page);
        self.read(endpoints::TRANSACTIONS, path).await
    }

    /// Spends a group's points, applied at most once per `key` however often it is sent.
    pub async fn redeem(&self, gid: impl Display, new: &NewRedemption, key: &str) -> Result<Reply<Redemption>> {
        let path = endpoints::REDEEM.path(&[&gid]);
        self.write(endpoints::REDEEM, path, Some(key), Some(new)).await
    }

    /// Bills a customer (staff, admin), applied at most once per `key`.
    pub async fn bill(&self, new: &NewBill, key: &str) -> Result<Reply<Bill>> {
        let path = endpoints::BILL.path(&[]);
        self.write(endpoints::BILL, path, Some(key), Some(new)).await
    }

    /// Takes back lines of a bill (staff, admin), applied at most once per `key`.
    pub async fn return_bill(&self, bill_id: impl Display, new: &NewReturn, key: &str) -> Result<Reply<Return>> {
        let path = endpoints::RETURN.path(&[&bill_id]);
        self.write(endpoints::RETURN, path, Some(key), Some(new)).await
    }

    /// A bill's receipt: its lines with the units returned, and its returns.
    pub async fn receipt(&self, bill_id: impl Display) -> Result<Reply<Receipt>> {
        let path = endpoints::RECEIPT.path(&[&bill_id]);
        self.read(endpoints::RECEIPT, path).await
    }

    /// What `bill` with the same body would come to now; writes nothing.
    pub async fn quote(&self, new: &NewBill) -> Result<Reply<BillQuote>> {
        let path = endpoints::QUOTE.path(&[]);
        self.write(endpoints::QUOTE, path, None, Some(new)).await
    }

    pub async fn discounts(&self, rid: impl Display) -> Result<Reply<Discounts>> {
        let path = endpoints::DISCOUNTS.path(&[&rid]);
        self.read(endpoints::DISCOUNTS, path).await
    }

    pub async fn add_discount(&self, rid: impl Display, new: &NewDiscount) -> Result<Reply<Discount>> {
        let path = endpoints::ADD_DISCOUNT.path(&[&rid]);
        self.write(endpoints::ADD_DISCOUNT, path, None, Some(new)).await
    }

    pub async fn change_discount(&self, id: impl Display, patch: &DiscountPatch) -> Result<Reply<Discount>> {
        let path = endpoints::CHANGE_DISCOUNT.path(&[&id]);
        self.write(endpoints::CHANGE_DISCOUNT, path, None, Some(patch)).await
    }

    pub async fn remove_discount(&self, id: impl Display) -> Result<Reply<()>> {
        let path = endpoints::REMOVE_DISCOUNT.path(&[&id]);
        self.write(endpoints::REMOVE_DISCOUNT, path, None, NO_BODY).await
    }

    pub async fn offers(&self, gid: impl Display) -> Result<Reply<Offers>> {
        let path = endpoints::OFFERS.path(&[&gid]);
        self.read(endpoints::OFFERS, path).await
    }

    /// Issues a group an offer (staff, admin), once per `key`.
    pub async fn issue_offer(&self, gid: impl Display, new: &NewOffer, key: &str) -> Result<Reply<Offer>> {
        let path = endpoints::ISSUE_OFFER.path(&[&gid]);
        self.write(endpoints::ISSUE_OFFER, path, Some(key), Some(new)).await
    }

    pub async fn catalogue(&self, rid: impl Display) -> Result<Reply<Catalogue>> {
        let path = endpoints::CATALOGUE.path(&[&rid]);
        self.read(endpoints::CATALOGUE, path).await
    }

    pub async fn add_item(&self, rid: impl Display, new: &NewCatalogueItem) -> Result<Reply<CatalogueItem>> {
        let path = endpoints::ADD_ITEM.path(&[&rid]);
        self.write(endpoints::ADD_ITEM, path, None, Some(new)).await
    }

    pub async fn change_item(&self, item_id: impl Display, patch: &CatalogueItemPatch) -> Result<Reply<CatalogueItem>> {
        let path = endpoints::CHANGE_ITEM.path(&[&item_id]);
        self.write(endpoints::CHANGE_ITEM, path, None, Some(patch)).await
    }

    pub async fn remove_item(&self, item_id: impl Display) -> Result<Reply<()>> {
        let path = endpoints::REMOVE_ITEM.path(&[&item_id]);
        self.write(endpoints::REMOVE_ITEM, path, None, NO_BODY).await
    }
}
