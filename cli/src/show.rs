//! Human-readable output (`--json` prints the API's JSON instead).

use contract::dto::{
    ActivityPage, AppliedDiscount, Audience, Bill, BillQuote, Catalogue, CatalogueItem, Discounts, Group, Invitation,
    InvitationSummary, MemberRole, Membership, Offers, Page, Receipt, Redemption, Regions, Return, User, UserGroups,
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

pub fn item(i: &CatalogueItem) -> String {
    format!("{}  {}  {}  {} pts  available: {}", i.id, i.name, money(i.price_cents), i.points_price, i.available)
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

/// ", less 2.00 (Lunch, offer 001-abc123)" when a discount applied.
fn discount_of(discounts: &[AppliedDiscount]) -> String {
    discounts
        .iter()
        .map(|d| {
            let offer = d.offer_id.as_deref().map(|o| format!(", offer {o}")).unwrap_or_default();
            format!(", less {} ({}{offer})", money(d.amount_cents), d.name)
        })
        .collect()
}

pub fn bill(bill: &Bill) -> String {
    format!(
        "billed {}{} to {} in group {}: {} points awarded, balance {} (bill {})",
        money(bill.amount_cents),
        discount_of(&bill.discounts),
        bill.user_id,
        bill.group_id,
        bill.points_awarded,
        bill.balance_after,
        bill.id
    )
}

pub fn quote(q: &BillQuote) -> String {
    format!(
        "{} gross{}: {} to pay, {} points (group {} holds {})",
        money(q.gross_cents),
        discount_of(&q.discounts),
        money(q.amount_cents),
        q.points_awarded,
        q.group_id,
        q.balance
    )
}

pub fn receipt(r: &Receipt) -> String {
    let by = r.actor_id.as_ref().map(|a| format!(" by {a}")).unwrap_or_default();
    let mut out = format!("{} on {}{by}", bill(&r.bill), r.bill.created_on.format("%Y-%m-%d %H:%M UTC"));
    for line in &r.lines {
        let back = if line.returned_qty > 0 { format!(", {} returned", line.returned_qty) } else { String::new() };
        let paid = money(line.paid_cents);
        out += &format!("\n  {} x {}: {paid} paid, {} points{back}", line.qty, line.item_id, line.points);
    }
    for back in &r.returns {
        out += &format!("\n  {}", returned(back));
    }
    out
}

pub fn returned(r: &Return) -> String {
    let owed = if r.points_owed > 0 { format!(" ({} owed: already spent)", r.points_owed) } else { String::new() };
    format!(
        "refund {}; {} points taken back from {}{owed}, balance {} (return {})",
        money(r.amount_cents),
        r.points_reversed,
        r.group_id,
        r.balance_after,
        r.id
    )
}

pub fn discounts(list: &Discounts) -> String {
    if list.items.is_empty() {
        return "no discounts".into();
    }
    list.items
        .iter()
        .map(|d| {
            let off = match (d.percent_off, d.amount_off_cents) {
                (Some(p), _) => format!("{p}% off"),
                (None, c) => format!("{} off", money(c.unwrap_or(0))),
            };
            let who = match (d.audience, d.every_n_bills) {
                (Audience::Everyone, _) => "everyone".to_owned(),
                (Audience::Offer, Some(n)) => format!("offers, one per {n} bills"),
                (Audience::Offer, None) => "offers".to_owned(),
            };
            format!("{}  {:<20} {:<12} {:<22} {}", d.id, d.name, off, who, if d.active { "active" } else { "inactive" })
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn offers(list: &Offers) -> String {
    if list.items.is_empty() {
        return "no offers".into();
    }
    list.items
        .iter()
        .map(|o| format!("{}  discount {} (region {})  {:?}", o.id, o.discount_id, o.region, o.state).to_lowercase())
        .collect::<Vec<_>>()
        .join("\n")
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
