//! Human-readable output (`--json` prints the API's JSON instead).

use contract::dto::{
    ActivityPage, Bill, Catalogue, Group, Invitation, InvitationSummary, MemberRole, Membership, Page, Redemption,
    Regions, User, UserGroups,
};

pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents.rem_euclid(100))
}

pub fn regions(regions: &Regions) -> String {
    regions
        .items
        .iter()
        .map(|r| format!("{}  {:<14} {:?}", r.id, r.name, r.status).to_lowercase())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn user(user: &User) -> String {
    format!(
        "{} ({})\n  id: {}  role: {}  home region: {}\n  phone: {}  location: {}  age: {}\n  personal group: {}  groups: {}",
        user.full_name,
        user.email,
        user.id,
        user.role.as_str(),
        user.home_region,
        user.phone.as_deref().unwrap_or("-"),
        user.location.as_deref().unwrap_or("-"),
        user.age.map_or("-".into(), |a| a.to_string()),
        user.personal_group_id,
        user.groups.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )
}

pub fn groups(groups: &UserGroups) -> String {
    let mut lines: Vec<String> = groups
        .items
        .iter()
        .map(|g| {
            let owner = if g.personal { "personal".to_owned() } else { format!("owner {}", g.owner_id) };
            format!("{}  {:<24} {:>8} points  ({} members, {owner})", g.id, g.name, g.points, g.members.len())
        })
        .collect();
    lines.extend(groups.unavailable.iter().map(|g| format!("{g}  (its region is unavailable right now)")));
    if lines.is_empty() { "no groups".into() } else { lines.join("\n") }
}

pub fn catalogue(catalogue: &Catalogue) -> String {
    if catalogue.items.is_empty() {
        return "the menu is empty".into();
    }
    catalogue
        .items
        .iter()
        .map(|i| {
            format!(
                "{}  {:<24} {:<10} {:>8}  {:>6} pts{}",
                i.id,
                i.name,
                i.category,
                money(i.price_cents),
                i.points_price,
                if i.available { "" } else { "  (unavailable)" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn bill(bill: &Bill) -> String {
    format!(
        "billed {} to {} in group {}: {} points awarded, balance {} (bill {})",
        money(bill.amount_cents),
        bill.user_id,
        bill.group_id,
        bill.points_awarded,
        bill.balance_after,
        bill.id
    )
}

pub fn redemption(r: &Redemption) -> String {
    format!("redeemed {} points from {}: balance {} (entry {})", r.points, r.group_id, r.balance_after, r.id)
}

pub fn activity(page: &ActivityPage) -> String {
    let mut lines: Vec<String> = page
        .items
        .iter()
        .map(|e| {
            format!(
                "{}  {:<6} {:>+7}  balance {:>7}  group {}",
                e.created_on.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                e.kind.as_str(),
                e.points,
                e.balance_after,
                e.group_id
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push("no activity".into());
    }
    if !page.unavailable.is_empty() {
        let regions: Vec<String> = page.unavailable.iter().map(ToString::to_string).collect();
        lines.push(format!("(regions {} did not answer: their entries are missing)", regions.join(", ")));
    }
    if let Some(cursor) = &page.next_cursor {
        lines.push(format!("more: --cursor {cursor}"));
    }
    lines.join("\n")
}

pub fn members(group: &Group) -> String {
    let mut lines = vec![format!(
        "{}  {}  {} points  {}/{} members{}",
        group.id,
        group.name,
        group.points,
        group.memberships.len(),
        group.max_members,
        if group.personal { "  (personal)" } else { "" }
    )];
    lines.extend(group.memberships.iter().map(|m| {
        let role = if m.role == MemberRole::Owner { "owner " } else { "member" };
        let rights = if m.can_redeem { "may redeem" } else { "may not redeem" };
        format!("  {}  {role}  {rights}  since {}", m.user_id, m.joined_on.format("%Y-%m-%d"))
    }));
    lines.join("\n")
}

pub fn membership(m: &Membership) -> String {
    let rights = if m.can_redeem { "may redeem" } else { "may not redeem" };
    format!("{} is a member of {} ({rights})", m.user_id, m.group_id)
}

pub fn invitation(i: &Invitation) -> String {
    format!(
        "invitation {} to {}: give this code to the one who joins (it is shown once)\n  {}\n  {}, {}until {}",
        i.id,
        i.group_id,
        i.code,
        if i.can_redeem { "may redeem" } else { "may not redeem" },
        i.user_id.as_ref().map_or(String::new(), |u| format!("only for {u}, ")),
        i.expires_at.format("%Y-%m-%d %H:%M UTC")
    )
}

pub fn invitations(page: &Page<InvitationSummary>) -> String {
    if page.items.is_empty() {
        return "no invitations".into();
    }
    page.items
        .iter()
        .map(|i| {
            let state = match (&i.used_by, i.revoked_on) {
                (Some(user), _) => format!("used by {user}"),
                (None, Some(_)) => "revoked".to_owned(),
                (None, None) if i.expires_at < chrono::Utc::now() => "expired".to_owned(),
                (None, None) => format!("open until {}", i.expires_at.format("%Y-%m-%d %H:%M UTC")),
            };
            let rights = if i.can_redeem { "may redeem" } else { "may not redeem" };
            format!("{}  {state}  {rights}{}", i.id, i.user_id.as_ref().map_or(String::new(), |u| format!("  for {u}")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
