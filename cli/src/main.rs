//! `loyalty`: the staff and customer app. With a subcommand it is scriptable (`--json`,
//! meaningful exit codes); without one it logs in if needed and shows menus for the role.

mod actions;
mod api;
mod commands;
mod interactive;
mod session;
mod show;

use clap::Parser;
use serde::Serialize;
use serde_json::json;

use contract::dto::{Audience, CatalogueItemPatch, NewDiscount};

use crate::api::{Api, Failure, Outcome};
use crate::commands::{Account, Args, BillArgs, Command, DiscountCommand, ItemCommand};
use crate::session::{Session, Store};

pub struct App {
    pub store: Store,
    pub url: String,
    pub ca_file: Option<std::path::PathBuf>,
    pub json: bool,
}

impl App {
    pub fn session(&self) -> Outcome<Session> {
        self.store.load().ok_or(Failure::NotLoggedIn)
    }

    pub fn api(&self, session: Option<&Session>) -> Outcome<Api> {
        api::connect(&self.url, session.map(|s| s.token.clone()), self.ca_file.as_deref())
    }

    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce(&T) -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            println!("{}", text(value));
        }
    }

    /// Revokes the session's token on the platform, then forgets it here (even when the
    /// platform cannot be told): (was logged in, token revoked).
    pub async fn log_out(&self) -> Outcome<(bool, bool)> {
        let Some(session) = self.store.load() else { return Ok((false, false)) };
        let revoked = match actions::log_out(&self.api(Some(&session))?, &session.user_id).await {
            Ok(_) => true,
            Err(err) => {
                eprintln!("warning: the token was not revoked: {}", err.explain());
                false
            }
        };
        Ok((self.store.forget()?, revoked))
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Outcome<Session> {
        let api = self.api(None)?;
        let s = actions::log_in(&api, email, password).await?;
        let session = Session {
            url: self.url.clone(),
            token: s.token,
            user_id: s.user_id.to_string(),
            role: s.role,
            expires_at: s.expires_at,
        };
        self.store.save(&session)?;
        Ok(session)
    }
}

fn parse_line(line: &str) -> Outcome<(String, u32)> {
    let (item, qty) = line.split_once(':').unwrap_or((line, "1"));
    let qty = qty.parse().map_err(|_| Failure::Usage(format!("--item {line}: expected ITEM_ID:QTY")))?;
    Ok((item.to_owned(), qty))
}

async fn run(app: &App, command: Command) -> Outcome<()> {
    match command {
        Command::Regions => app.print(&actions::regions(&app.api(None)?).await?, show::regions),
        Command::Signup { account: Account { email, password, name }, region } => {
            let api = app.api(None)?;
            let region = match region {
                Some(region) => region,
                None => interactive::ask_region(&api).await?,
            };
            let user = actions::sign_up(&api, &email, &password, &name, &region).await?;
            app.print(&user, |u| {
                format!("welcome, {}! your id is {} (home region {})", u.full_name, u.id, u.home_region)
            });
        }
        Command::Login { email, password } => {
            let session = app.log_in(&email, &password).await?;
            app.print(&session, |s| format!("logged in as {} ({})", s.user_id, s.role.as_str()));
        }
        Command::Logout => {
            let (had, revoked) = app.log_out().await?;
            app.print(&json!({"logged_out": had, "token_revoked": revoked}), |_| match (had, revoked) {
                (false, _) => "you were not logged in".into(),
                (true, true) => "logged out (the token is revoked)".into(),
                (true, false) => {
                    "logged out here; the platform could not be told (the token lapses at its expiry)".into()
                }
            });
        }
        Command::Password { current, new } => {
            let s = app.session()?;
            let api = app.api(Some(&s))?;
            let email = actions::profile(&api, &s.user_id).await?.email;
            actions::change_password(&api, &s.user_id, &current, &new).await?;
            // The change revoked this session's token too.
            let session = app.log_in(&email, &new).await.inspect_err(|_| {
                let _ = app.store.forget();
                eprintln!("your password was changed, but logging in again failed: log in with the new one");
            })?;
            app.print(&session, |_| "password changed; your other sessions are logged out".into());
        }
        Command::CloseAccount { current, forfeit_points } => {
            let s = app.session()?;
            actions::close_account(&app.api(Some(&s))?, &s.user_id, &current, forfeit_points).await?;
            // Closing revoked this session's token too.
            app.store.forget()?;
            app.print(&json!({"closed": s.user_id}), |_| "your account is closed and its personal data erased".into());
        }
        Command::Me => {
            let s = app.session()?;
            app.print(&actions::profile(&app.api(Some(&s))?, &s.user_id).await?, show::user);
        }
        Command::Groups => {
            let s = app.session()?;
            app.print(&actions::groups(&app.api(Some(&s))?, &s.user_id).await?, show::groups);
        }
        Command::NewGroup { name, location, region } => {
            let s = app.session()?;
            let region = region.unwrap_or_else(|| s.user_id[..3].to_owned());
            let group = actions::new_group(&app.api(Some(&s))?, &name, &location, &region).await?;
            app.print(&group, |g| format!("group {} ({}) created; you own it", g.id, g.name));
        }
        Command::Members { group } => {
            let s = app.session()?;
            app.print(&actions::group(&app.api(Some(&s))?, &group).await?, show::members);
        }
        Command::Invite { group, can_redeem, for_user, expires_in } => {
            let s = app.session()?;
            let api = app.api(Some(&s))?;
            let invitation = actions::invite(&api, &group, can_redeem, for_user.as_deref(), expires_in).await?;
            app.print(&invitation, show::invitation);
        }
        Command::Invitations { group } => {
            let s = app.session()?;
            app.print(&actions::invitations(&app.api(Some(&s))?, &group).await?, show::invitations);
        }
        Command::Revoke { group, invitation } => {
            let s = app.session()?;
            let revoked = actions::revoke(&app.api(Some(&s))?, &group, &invitation).await?;
            app.print(&revoked, |_| format!("invitation {invitation} revoked"));
        }
        Command::Join { code } => {
            let s = app.session()?;
            let joined = actions::join(&app.api(Some(&s))?, &code, &s.user_id).await?;
            app.print(&joined, show::membership);
        }
        Command::Grant { group, user, withdraw } => {
            let s = app.session()?;
            let membership = actions::set_can_redeem(&app.api(Some(&s))?, &group, &user, !withdraw).await?;
            app.print(&membership, show::membership);
        }
        Command::Remove { group, user } => {
            let s = app.session()?;
            let removed = actions::leave(&app.api(Some(&s))?, &group, &user).await?;
            app.print(&removed, |_| format!("{user} removed from {group}"));
        }
        Command::HandOver { group, user } => {
            let s = app.session()?;
            let group = actions::hand_over(&app.api(Some(&s))?, &group, &user).await?;
            app.print(&group, |g| format!("{} now owns {} ({})", g.owner_id, g.id, g.name));
        }
        Command::Leave { group } => {
            let s = app.session()?;
            let left = actions::leave(&app.api(Some(&s))?, &group, &s.user_id).await?;
            app.print(&left, |_| format!("you left {group}"));
        }
        Command::Redeem { group, points, item, qty } => {
            let s = app.session()?;
            let what = match (points, item) {
                (Some(points), None) => actions::Spend::Points(points),
                (None, Some(item)) => actions::Spend::Item(item, qty),
                _ => return Err(Failure::Usage("give --points N or --item ID".into())),
            };
            app.print(&actions::redeem(&app.api(Some(&s))?, &group, what).await?, show::redemption);
        }
        Command::Activity { limit, cursor } => {
            let s = app.session()?;
            app.print(
                &actions::activity(&app.api(Some(&s))?, &s.user_id, limit, cursor.as_deref()).await?,
                show::activity,
            );
        }
        Command::Catalogue { region } => {
            app.print(&actions::catalogue(&app.api(None)?, &region).await?, show::catalogue)
        }
        Command::Bill(BillArgs { user, group, store, items }) => {
            let s = app.session()?;
            let lines = items.iter().map(|l| parse_line(l)).collect::<Outcome<Vec<_>>>()?;
            app.print(&actions::bill(&app.api(Some(&s))?, &user, group.as_deref(), &store, &lines).await?, show::bill);
        }
        Command::Quote(BillArgs { user, group, store, items }) => {
            let s = app.session()?;
            let lines = items.iter().map(|l| parse_line(l)).collect::<Outcome<Vec<_>>>()?;
            app.print(
                &actions::quote(&app.api(Some(&s))?, &user, group.as_deref(), &store, &lines).await?,
                show::quote,
            );
        }
        Command::Receipt { bill } => {
            let s = app.session()?;
            app.print(&actions::receipt(&app.api(Some(&s))?, &bill).await?, show::receipt);
        }
        Command::Return { bill, items } => {
            let s = app.session()?;
            let lines = items.iter().map(|l| parse_line(l)).collect::<Outcome<Vec<_>>>()?;
            app.print(&actions::return_bill(&app.api(Some(&s))?, &bill, &lines).await?, show::returned);
        }
        Command::Discount(command) => {
            let s = app.session()?;
            let api = app.api(Some(&s))?;
            match command {
                DiscountCommand::List { region } => {
                    app.print(&actions::discounts(&api, &region).await?, show::discounts)
                }
                DiscountCommand::Add {
                    region,
                    name,
                    percent,
                    amount_cents,
                    min_spend_cents,
                    category,
                    offer,
                    every_n_bills,
                } => {
                    let new = NewDiscount {
                        name,
                        percent_off: percent,
                        amount_off_cents: amount_cents,
                        min_spend_cents,
                        category,
                        valid_from: None,
                        valid_until: None,
                        audience: if offer { Audience::Offer } else { Audience::Everyone },
                        every_n_bills,
                    };
                    let made = actions::add_discount(&api, &region, &new).await?;
                    app.print(&made, |d| format!("discount {} ({}) added in region {}", d.id, d.name, d.region));
                }
                DiscountCommand::Remove { discount } => {
                    app.print(&actions::remove_discount(&api, &discount).await?, |_| format!("{discount} removed"))
                }
            }
        }
        Command::Offers { group } => {
            let s = app.session()?;
            app.print(&actions::offers(&app.api(Some(&s))?, &group).await?, show::offers);
        }
        Command::Offer { group, discount } => {
            let s = app.session()?;
            let offer = actions::issue_offer(&app.api(Some(&s))?, &group, &discount).await?;
            app.print(&offer, |o| format!("offer {} of {} issued to {group}", o.id, o.discount_id));
        }
        Command::Item(item) => {
            let s = app.session()?;
            let api = app.api(Some(&s))?;
            let (id, patch) = match item {
                ItemCommand::Add { region, name, category, price_cents, points } => {
                    let made = actions::add_item(&api, &region, &name, &category, price_cents, points).await?;
                    app.print(&made, show::item);
                    return Ok(());
                }
                ItemCommand::Remove { item } => {
                    app.print(&actions::remove_item(&api, &item).await?, |_| format!("{item} removed"));
                    return Ok(());
                }
                ItemCommand::Price { item, price_cents } => {
                    (item, CatalogueItemPatch { price_cents: Some(price_cents), ..Default::default() })
                }
                ItemCommand::Unavailable { item } => {
                    (item, CatalogueItemPatch { available: Some(false), ..Default::default() })
                }
                ItemCommand::Available { item } => {
                    (item, CatalogueItemPatch { available: Some(true), ..Default::default() })
                }
            };
            app.print(&actions::change_item(&api, &id, patch).await?, show::item);
        }
        Command::CreateStaff { account: Account { email, password, name }, region } => {
            let s = app.session()?;
            let user = actions::create_staff(&app.api(Some(&s))?, &email, &password, &name, &region).await?;
            app.print(&user, |u| format!("staff account {} created in region {}", u.id, u.home_region));
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    tls::install_default_provider();
    let args = Args::parse();
    let store = match Store::locate() {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    };
    let url = args
        .url
        .clone()
        .or_else(|| store.configured_url())
        .or_else(|| store.load().map(|s| s.url))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let app = App { store, url, ca_file: args.ca_file.clone(), json: args.json };
    let result = match args.command {
        Some(command) => run(&app, command).await,
        None => interactive::run(&app).await,
    };
    if let Err(failure) = result {
        eprintln!("error: {}", failure.explain());
        std::process::exit(failure.exit_code());
    }
}
