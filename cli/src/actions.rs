//! What a user can do, one function each; the subcommands and the menus both call these.

use contract::dto::{
    AccountClosure, ActivityPage, Bill, BillLine, BillQuote, Catalogue, CatalogueItem, CatalogueItemPatch, Discount,
    Discounts, Group, GroupPatch, Invitation, InvitationSummary, MemberPatch, Membership, NewBill, NewCatalogueItem,
    NewDiscount, NewGroup, NewInvitation, NewMember, NewOffer, NewRedemption, NewReturn, NewUser, Offer, Offers, Page,
    Receipt, Redemption, Regions, Return, Role, Session, User, UserGroups,
};
use contract::numbers::{NumberKind, PageSize};
use serde_json::{Value, json};

use crate::api::{Api, Failure, Outcome, value};

/// What a call answering `204 No Content` prints.
fn done(reply: client::Result<client::Reply<()>>) -> Outcome<Value> {
    reply?;
    Ok(json!({}))
}

fn new_user(email: &str, password: &str, full_name: &str, region: &str, role: Option<Role>) -> NewUser {
    NewUser { role, ..NewUser::new(email, password, full_name, region) }
}

pub async fn regions(api: &Api) -> Outcome<Regions> {
    value(api.regions().await)
}

pub async fn sign_up(api: &Api, email: &str, password: &str, full_name: &str, region: &str) -> Outcome<User> {
    value(api.sign_up(&new_user(email, password, full_name, region, None)).await)
}

pub async fn log_in(api: &Api, email: &str, password: &str) -> Outcome<Session> {
    value(api.log_in(email, password).await)
}

pub async fn profile(api: &Api, user: &str) -> Outcome<User> {
    value(api.user(user).await)
}

pub async fn groups(api: &Api, user: &str) -> Outcome<UserGroups> {
    value(api.user_groups(user).await)
}

pub async fn new_group(api: &Api, name: &str, location: &str, region: &str) -> Outcome<Group> {
    let new = NewGroup { name: name.to_owned(), location: location.to_owned(), region: region.to_owned() };
    value(api.create_group(&new).await)
}

pub async fn group(api: &Api, group: &str) -> Outcome<Group> {
    value(api.group(group).await)
}

/// The group an invitation code opens: the code starts with its id.
pub fn group_of_code(code: &str) -> Outcome<&str> {
    code.split_once('.')
        .map(|(group, _)| group)
        .filter(|group| !group.is_empty())
        .ok_or_else(|| Failure::Usage("an invitation code looks like 001-abc123.XXXX".into()))
}

/// Joins the group `code` opens.
pub async fn join(api: &Api, code: &str, user: &str) -> Outcome<Membership> {
    let group = group_of_code(code)?;
    let new = NewMember { user_id: user.to_owned(), invitation: Some(code.to_owned()) };
    value(api.join(group, &new).await)
}

/// Revokes the session's token on the platform (it stops working everywhere within a
/// second or so).
pub async fn log_out(api: &Api, user: &str) -> Outcome<Value> {
    done(api.log_out(user, false).await)
}

/// Changes the user's password; the platform revokes every token of theirs with it.
pub async fn change_password(api: &Api, user: &str, current: &str, new: &str) -> Outcome<Value> {
    done(api.change_password(user, Some(current), new).await)
}

/// Closes the user's account, giving up `forfeit` points of their personal group (the
/// platform refuses when that is not its balance, and says what is).
pub async fn close_account(api: &Api, user: &str, current: &str, forfeit: Option<u64>) -> Outcome<Value> {
    let closure = AccountClosure { current_password: Some(current.to_owned()), forfeit_points: forfeit };
    done(api.close_account(user, &closure).await)
}

/// Leaves a group, or (the owner) removes a member from it.
pub async fn leave(api: &Api, group: &str, user: &str) -> Outcome<Value> {
    done(api.remove_member(group, user).await)
}

pub async fn invite(
    api: &Api,
    group: &str,
    can_redeem: bool,
    for_user: Option<&str>,
    expires_in_secs: Option<i64>,
) -> Outcome<Invitation> {
    let new = NewInvitation { can_redeem: Some(can_redeem), user_id: for_user.map(str::to_owned), expires_in_secs };
    value(api.invite(group, &new).await)
}

pub async fn invitations(api: &Api, group: &str) -> Outcome<Page<InvitationSummary>> {
    value(api.invitations(group, &client::PageQuery { limit: Some(PageSize::MAX), cursor: None }).await)
}

pub async fn revoke(api: &Api, group: &str, invitation: &str) -> Outcome<Value> {
    done(api.revoke_invitation(group, invitation).await)
}

pub async fn set_can_redeem(api: &Api, group: &str, user: &str, can_redeem: bool) -> Outcome<Membership> {
    value(api.change_member(group, user, &MemberPatch { can_redeem }).await)
}

pub async fn hand_over(api: &Api, group: &str, user: &str) -> Outcome<Group> {
    let patch = GroupPatch { owner_id: Some(user.to_owned()), ..GroupPatch::default() };
    value(api.update_group(group, &patch).await)
}

/// Points, or a number of one menu item.
pub enum Spend {
    Points(i64),
    Item(String, i64),
}

/// Redeems with one fresh Idempotency-Key, retried with it until a definite answer.
pub async fn redeem(api: &Api, group: &str, what: Spend) -> Outcome<Redemption> {
    let new = match what {
        Spend::Points(points) => NewRedemption { points: Some(points), item_id: None, qty: None },
        Spend::Item(item, qty) => NewRedemption { points: None, item_id: Some(item), qty: Some(qty) },
    };
    value(api.redeem(group, &new, &client::new_key()).await)
}

pub async fn activity(api: &Api, user: &str, limit: u32, cursor: Option<&str>) -> Outcome<ActivityPage> {
    let page = client::PageQuery { limit: Some(i64::from(limit)), cursor: cursor.map(str::to_owned) };
    value(api.activity(user, &page).await)
}

pub async fn catalogue(api: &Api, region: &str) -> Outcome<Catalogue> {
    value(api.catalogue(region).await)
}

fn lines_of(lines: &[(String, u32)]) -> Vec<BillLine> {
    lines.iter().map(|(item, qty)| BillLine { item_id: item.clone(), qty: i64::from(*qty) }).collect()
}

fn new_bill(user: &str, group: Option<&str>, store: &str, lines: &[(String, u32)]) -> NewBill {
    NewBill {
        user_id: user.to_owned(),
        group_id: group.map(str::to_owned),
        store_region: store.to_owned(),
        items: lines_of(lines),
    }
}

/// Bills with one fresh Idempotency-Key, retried with it until a definite answer.
/// The customer a till names: by email (what a customer tells it) or by id.
pub async fn customer(api: &Api, user: &str) -> Outcome<User> {
    match user.contains('@') {
        true => value(api.find_user(user).await),
        false => profile(api, user).await,
    }
}

/// The id of the customer a till names, looked up only when it is an email.
async fn customer_id(api: &Api, user: &str) -> Outcome<String> {
    match user.contains('@') {
        true => Ok(customer(api, user).await?.id.to_string()),
        false => Ok(user.to_owned()),
    }
}

pub async fn bill(api: &Api, user: &str, group: Option<&str>, store: &str, lines: &[(String, u32)]) -> Outcome<Bill> {
    let user = customer_id(api, user).await?;
    value(api.bill(&new_bill(&user, group, store, lines), &client::new_key()).await)
}

pub async fn quote(
    api: &Api,
    user: &str,
    group: Option<&str>,
    store: &str,
    lines: &[(String, u32)],
) -> Outcome<BillQuote> {
    let user = customer_id(api, user).await?;
    value(api.quote(&new_bill(&user, group, store, lines)).await)
}

pub async fn receipt(api: &Api, bill: &str) -> Outcome<Receipt> {
    value(api.receipt(bill).await)
}

/// Takes back `lines` of a bill (all that is left when empty), with one fresh key.
pub async fn return_bill(api: &Api, bill: &str, lines: &[(String, u32)]) -> Outcome<Return> {
    let new = NewReturn { lines: Some(lines_of(lines)).filter(|l| !l.is_empty()) };
    value(api.return_bill(bill, &new, &client::new_key()).await)
}

pub async fn discounts(api: &Api, region: &str) -> Outcome<Discounts> {
    value(api.discounts(region).await)
}

pub async fn add_discount(api: &Api, region: &str, new: &NewDiscount) -> Outcome<Discount> {
    value(api.add_discount(region, new).await)
}

pub async fn remove_discount(api: &Api, id: &str) -> Outcome<Value> {
    done(api.remove_discount(id).await)
}

pub async fn offers(api: &Api, group: &str) -> Outcome<Offers> {
    value(api.offers(group).await)
}

/// Issues an offer with one fresh key, retried with it until a definite answer.
pub async fn issue_offer(api: &Api, group: &str, discount: &str) -> Outcome<Offer> {
    let new = NewOffer { discount_id: discount.to_owned(), expires_at: None };
    value(api.issue_offer(group, &new, &client::new_key()).await)
}

pub async fn add_item(
    api: &Api,
    region: &str,
    name: &str,
    category: &str,
    price_cents: i64,
    points_price: i64,
) -> Outcome<CatalogueItem> {
    let new = NewCatalogueItem {
        name: name.to_owned(),
        category: category.to_owned(),
        price_cents,
        points_price,
        available: None,
    };
    value(api.add_item(region, &new).await)
}

pub async fn change_item(api: &Api, item: &str, change: CatalogueItemPatch) -> Outcome<CatalogueItem> {
    value(api.change_item(item, &change).await)
}

pub async fn remove_item(api: &Api, item: &str) -> Outcome<Value> {
    done(api.remove_item(item).await)
}

pub async fn create_staff(api: &Api, email: &str, password: &str, full_name: &str, region: &str) -> Outcome<User> {
    value(api.sign_up(&new_user(email, password, full_name, region, Some(Role::Staff))).await)
}
