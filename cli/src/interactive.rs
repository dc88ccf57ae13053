//! `loyalty` with no subcommand: log in (or sign up) if needed, then a menu that fits the
//! role. Errors are shown and the menu comes back; nothing here exits on a refusal.

use contract::dto::{CatalogueItemPatch, Role};
use dialoguer::{Confirm, Input, Password, Select};

use crate::api::{Api, Failure, Outcome};
use crate::session::Session;
use crate::{App, actions, show};

fn prompt_failed(err: dialoguer::Error) -> Failure {
    Failure::Usage(format!("the terminal went away: {err}"))
}

fn choose(prompt: &str, items: &[String]) -> Outcome<usize> {
    Select::new().with_prompt(prompt).items(items).default(0).interact().map_err(prompt_failed)
}

fn ask(prompt: &str) -> Outcome<String> {
    Input::<String>::new().with_prompt(prompt).interact_text().map_err(prompt_failed)
}

fn ask_number(prompt: &str) -> Outcome<i64> {
    Input::<i64>::new().with_prompt(prompt).interact_text().map_err(prompt_failed)
}

fn ask_secret(prompt: &str) -> Outcome<String> {
    Password::new().with_prompt(prompt).interact().map_err(prompt_failed)
}

/// "What is your home region?", from the router's list of regions.
pub async fn ask_region(api: &Api) -> Outcome<String> {
    let regions = actions::regions(api).await?;
    let labels: Vec<String> = regions.items.iter().map(|r| format!("{} {}", r.id, r.name)).collect();
    let pick = choose("What is your home region?", &labels)?;
    Ok(regions.items[pick].id.to_string())
}

async fn log_in_or_sign_up(app: &App) -> Outcome<Option<Session>> {
    loop {
        let pick = choose("Welcome to Loyalty", &["Log in".into(), "Sign up".into(), "Quit".into()])?;
        let result = match pick {
            0 => {
                let email = ask("Email")?;
                let password = ask_secret("Password")?;
                app.log_in(&email, &password).await
            }
            1 => {
                let api = app.api(None)?;
                let email = ask("Email")?;
                let password = ask_secret("Password (8 characters or more)")?;
                let name = ask("Full name")?;
                let region = ask_region(&api).await?;
                match actions::sign_up(&api, &email, &password, &name, &region).await {
                    Ok(user) => {
                        println!("Welcome, {}! Your id is {}.", user.full_name, user.id);
                        app.log_in(&email, &password).await
                    }
                    Err(err) => Err(err),
                }
            }
            _ => return Ok(None),
        };
        match result {
            Ok(session) => return Ok(Some(session)),
            Err(err) => println!("error: {}", err.explain()),
        }
    }
}

pub async fn run(app: &App) -> Outcome<()> {
    let session = match app.store.load() {
        Some(session) => session,
        None => match log_in_or_sign_up(app).await? {
            Some(session) => session,
            None => return Ok(()),
        },
    };
    println!("Logged in as {} ({}).", session.user_id, session.role.as_str());
    let api = app.api(Some(&session))?;
    loop {
        let done = match session.role {
            Role::Customer => customer_menu(app, &api, &session).await,
            Role::Staff | Role::Admin => staff_menu(app, &api, &session).await,
        };
        match done {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(err @ Failure::Usage(_)) => return Err(err),
            Err(err) => println!("error: {}", err.explain()),
        }
    }
}

/// One round of the customer's menu; `Ok(true)` when the user is done.
async fn customer_menu(app: &App, api: &Api, session: &Session) -> Outcome<bool> {
    let items = [
        "My groups",
        "Redeem points",
        "Join a group",
        "Leave a group",
        "View a region's menu",
        "My activity",
        "My profile",
        "Create a group",
        "Manage a group I own",
        "Log out",
        "Quit",
    ]
    .map(String::from);
    match choose("What would you like to do?", &items)? {
        0 => println!("{}", show::groups(&actions::groups(api, &session.user_id).await?)),
        1 => redeem(api, session).await?,
        2 => {
            let code = ask("Invitation code (from the group's owner)")?;
            let joined = actions::join(api, code.trim(), &session.user_id).await?;
            println!("You joined {}.", joined.group_id);
        }
        3 => {
            let groups = actions::groups(api, &session.user_id).await?;
            let labels: Vec<String> = groups.items.iter().map(|g| format!("{} {}", g.id, g.name)).collect();
            if labels.is_empty() {
                println!("You are in no group.");
                return Ok(false);
            }
            let group = &groups.items[choose("Leave which group?", &labels)?];
            actions::leave(api, group.id.as_str(), &session.user_id).await?;
            println!("You left {}.", group.id);
        }
        4 => {
            let region = ask_region(api).await?;
            println!("{}", show::catalogue(&actions::catalogue(api, &region).await?));
        }
        5 => {
            let mut cursor: Option<String> = None;
            loop {
                let page = actions::activity(api, &session.user_id, 10, cursor.as_deref()).await?;
                println!(
                    "{}",
                    show::activity(&page).lines().filter(|l| !l.starts_with("more:")).collect::<Vec<_>>().join("\n")
                );
                cursor = page.next_cursor.clone();
                let more = cursor.is_some()
                    && Confirm::new().with_prompt("Next page?").default(true).interact().map_err(prompt_failed)?;
                if !more {
                    break;
                }
            }
        }
        6 => println!("{}", show::user(&actions::profile(api, &session.user_id).await?)),
        7 => {
            let name = ask("Name of the group")?;
            let location = ask("Where (a city, a team)")?;
            let region = ask_region(api).await?;
            let group = actions::new_group(api, name.trim(), location.trim(), &region).await?;
            println!("Group {} created; you own it. Invite people from \"Manage a group I own\".", group.id);
        }
        8 => manage_group(api, session).await?,
        9 => return log_out(app).await,
        _ => return Ok(true),
    }
    Ok(false)
}

/// Revokes the session's token on the platform, as `loyalty logout` does, and forgets it.
async fn log_out(app: &App) -> Outcome<bool> {
    let (_, revoked) = app.log_out().await?;
    println!("{}", if revoked { "Logged out." } else { "Logged out here (the token lapses at its expiry)." });
    Ok(true)
}

/// The owner's menu for one of their groups: members, invitations, rights, hand-over.
async fn manage_group(api: &Api, session: &Session) -> Outcome<()> {
    let groups = actions::groups(api, &session.user_id).await?;
    let owned: Vec<_> = groups.items.iter().filter(|g| !g.personal && g.owner_id.as_str() == session.user_id).collect();
    if owned.is_empty() {
        println!("You own no shared group: create one first.");
        return Ok(());
    }
    let labels: Vec<String> = owned.iter().map(|g| format!("{} {}", g.id, g.name)).collect();
    let gid = owned[choose("Which group?", &labels)?].id.to_string();
    let actions_list = [
        "Members",
        "Invite someone",
        "Invitations",
        "Revoke an invitation",
        "Let a member redeem",
        "Stop a member redeeming",
        "Remove a member",
        "Hand the group over",
        "Back",
    ]
    .map(String::from);
    match choose("What would you like to do with it?", &actions_list)? {
        0 => println!("{}", show::members(&actions::group(api, &gid).await?)),
        1 => {
            let can_redeem = Confirm::new()
                .with_prompt("May they redeem the group's points?")
                .default(false)
                .interact()
                .map_err(prompt_failed)?;
            println!("{}", show::invitation(&actions::invite(api, &gid, can_redeem, None, None).await?));
        }
        2 => println!("{}", show::invitations(&actions::invitations(api, &gid).await?)),
        3 => {
            let page = actions::invitations(api, &gid).await?;
            let open: Vec<_> = page.items.iter().filter(|i| i.used_by.is_none() && i.revoked_on.is_none()).collect();
            if open.is_empty() {
                println!("No open invitation.");
                return Ok(());
            }
            let labels: Vec<String> = open.iter().map(|i| format!("{} until {}", i.id, i.expires_at)).collect();
            let id = open[choose("Revoke which?", &labels)?].id.to_string();
            actions::revoke(api, &gid, &id).await?;
            println!("Invitation {id} revoked.");
        }
        pick @ 4..=7 => {
            let group = actions::group(api, &gid).await?;
            let others: Vec<_> = group.memberships.iter().filter(|m| m.user_id.as_str() != session.user_id).collect();
            if others.is_empty() {
                println!("You are the group's only member.");
                return Ok(());
            }
            let labels: Vec<String> = others
                .iter()
                .map(|m| format!("{} ({})", m.user_id, if m.can_redeem { "may redeem" } else { "may not redeem" }))
                .collect();
            let user = others[choose("Which member?", &labels)?].user_id.to_string();
            match pick {
                4 | 5 => println!("{}", show::membership(&actions::set_can_redeem(api, &gid, &user, pick == 4).await?)),
                6 => {
                    actions::leave(api, &gid, &user).await?;
                    println!("{user} removed.");
                }
                _ => {
                    let group = actions::hand_over(api, &gid, &user).await?;
                    println!("{} now owns {}.", group.owner_id, group.id);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

async fn redeem(api: &Api, session: &Session) -> Outcome<()> {
    let groups = actions::groups(api, &session.user_id).await?;
    if groups.items.is_empty() {
        println!("You are in no group.");
        return Ok(());
    }
    let labels: Vec<String> =
        groups.items.iter().map(|g| format!("{} {} ({} points)", g.id, g.name, g.points)).collect();
    let group = &groups.items[choose("Redeem from which group?", &labels)?];
    let what = match choose("Redeem", &["A number of points".into(), "A menu item".into()])? {
        0 => actions::Spend::Points(ask_number("Points")?),
        _ => {
            let menu = actions::catalogue(api, group.region.as_str()).await?;
            let available: Vec<_> = menu.items.iter().filter(|i| i.available).collect();
            if available.is_empty() {
                println!("Nothing on region {}'s menu can be redeemed.", group.region);
                return Ok(());
            }
            let labels: Vec<String> =
                available.iter().map(|i| format!("{} ({} points)", i.name, i.points_price)).collect();
            let item = available[choose("Which item?", &labels)?];
            actions::Spend::Item(item.id.to_string(), ask_number("How many")?)
        }
    };
    println!("{}", show::redemption(&actions::redeem(api, group.id.as_str(), what).await?));
    Ok(())
}

async fn staff_menu(app: &App, api: &Api, session: &Session) -> Outcome<bool> {
    let mut items = vec![
        "Bill a customer",
        "Add a menu item",
        "Change an item's price",
        "Mark an item unavailable",
        "View a region's menu",
    ];
    if session.role == Role::Admin {
        items.push("Create a staff account");
    }
    items.extend(["Log out", "Quit"]);
    let items: Vec<String> = items.into_iter().map(String::from).collect();
    let region = &session.user_id[..3];
    match items[choose("What would you like to do?", &items)?].as_str() {
        "Bill a customer" => bill(api, region).await?,
        "Add a menu item" => {
            let item = actions::add_item(
                api,
                region,
                &ask("Name")?,
                &ask("Category")?,
                ask_number("Price in cents")?,
                ask_number("Points price")?,
            )
            .await?;
            println!("Added {} ({}).", item.name, item.id);
        }
        "Change an item's price" => {
            if let Some(item) = pick_item(api, region).await? {
                let patch =
                    CatalogueItemPatch { price_cents: Some(ask_number("New price in cents")?), ..Default::default() };
                let item = actions::change_item(api, &item, patch).await?;
                println!("{} now costs {}.", item.name, show::money(item.price_cents));
            }
        }
        "Mark an item unavailable" => {
            if let Some(item) = pick_item(api, region).await? {
                let patch = CatalogueItemPatch { available: Some(false), ..Default::default() };
                let item = actions::change_item(api, &item, patch).await?;
                println!("{} is now unavailable.", item.name);
            }
        }
        "View a region's menu" => {
            let region = ask_region(api).await?;
            println!("{}", show::catalogue(&actions::catalogue(api, &region).await?));
        }
        "Create a staff account" => {
            let user = actions::create_staff(
                api,
                &ask("Email")?,
                &ask_secret("Password")?,
                &ask("Full name")?,
                &ask_region(api).await?,
            )
            .await?;
            println!("Staff account {} created in region {}.", user.id, user.home_region);
        }
        "Log out" => return log_out(app).await,
        _ => return Ok(true),
    }
    Ok(false)
}

/// An item of `region`'s menu, chosen by the user; `None` when the menu is empty.
async fn pick_item(api: &Api, region: &str) -> Outcome<Option<String>> {
    let menu = actions::catalogue(api, region).await?;
    if menu.items.is_empty() {
        println!("Region {region}'s menu is empty.");
        return Ok(None);
    }
    let labels: Vec<String> = menu.items.iter().map(|i| format!("{} {}", i.name, show::money(i.price_cents))).collect();
    Ok(Some(menu.items[choose("Which item?", &labels)?].id.to_string()))
}

/// Find the customer, pick the group, pick items and quantities from this region's
/// menu, confirm the total, then bill.
async fn bill(api: &Api, region: &str) -> Outcome<()> {
    let user = actions::customer(api, ask("Customer email or id")?.trim()).await?;
    println!("Customer: {} ({})", user.full_name, user.email);
    let groups: Vec<String> = user.groups.iter().map(ToString::to_string).collect();
    let group = groups.get(choose("Into which group?", &groups)?).cloned();
    let menu = actions::catalogue(api, region).await?;
    let available: Vec<_> = menu.items.iter().filter(|i| i.available).collect();
    if available.is_empty() {
        println!("Region {region}'s menu has nothing available.");
        return Ok(());
    }
    let mut labels: Vec<String> =
        available.iter().map(|i| format!("{} {}", i.name, show::money(i.price_cents))).collect();
    labels.push("Done".into());
    let mut lines: Vec<(String, u32)> = Vec::new();
    let mut total = 0i64;
    loop {
        let pick = choose("Add an item (or Done)", &labels)?;
        if pick == available.len() {
            break;
        }
        let qty = ask_number("Quantity")?;
        let qty = u32::try_from(qty).map_err(|_| Failure::Usage("a quantity is a positive number".into()))?;
        total += available[pick].price_cents * i64::from(qty);
        lines.push((available[pick].id.to_string(), qty));
    }
    if lines.is_empty() {
        println!("Nothing to bill.");
        return Ok(());
    }
    let question = format!("Bill {} to {}?", show::money(total), user.full_name);
    if !Confirm::new().with_prompt(question).default(true).interact().map_err(prompt_failed)? {
        println!("Cancelled.");
        return Ok(());
    }
    println!("{}", show::bill(&actions::bill(api, user.id.as_str(), group.as_deref(), region, &lines).await?));
    Ok(())
}
