//! The world a run plays in, created through the public API: staff per region (made by
//! the admin), a small menu per region, customers spread over the regions, and shared
//! groups spread over the regions with members from several regions each.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use contract::dto::{Audience, NewCatalogueItem, NewDiscount, NewGroup, NewInvitation, NewMember, NewUser, Role};
use rand::Rng;
use rand::rngs::StdRng;

use crate::platform::Api;
use crate::scenario::Scenario;

pub const PASSWORD: &str = "load test password";

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub token: String,
    pub personal_group: String,
    /// Every group the customer belongs to (personal first).
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct World {
    pub run_id: String,
    pub admin: String,
    /// Staff of each region: (user id, token).
    pub staff: Vec<(String, String)>,
    /// Region → ids of its catalogue items.
    pub menus: BTreeMap<String, Vec<String>>,
    /// Each region's offer-only discount (which also issues offers every 4 bills).
    pub offer_discounts: BTreeMap<String, String>,
    pub customers: Vec<Customer>,
    pub shared_groups: Vec<String>,
}

impl World {
    /// Every group the run writes to: the shared ones and each customer's personal one.
    pub fn all_groups(&self) -> Vec<String> {
        self.shared_groups.iter().cloned().chain(self.customers.iter().map(|c| c.personal_group.clone())).collect()
    }
}

async fn log_in(api: &Api, email: &str, password: &str) -> anyhow::Result<String> {
    let session = api.anonymous().log_in(email, password).await.with_context(|| format!("log in {email}"))?;
    Ok(session.value.token)
}

fn new_user(email: &str, full_name: String, region: &str, role: Option<Role>) -> NewUser {
    NewUser { role, ..NewUser::new(email, PASSWORD, &full_name, region) }
}

/// The bootstrap admin is announced to the directory through an outbox: wait for it.
async fn admin_token(api: &Api, scenario: &Scenario) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match log_in(api, &scenario.admin_email, &scenario.admin_password).await {
            Ok(token) => return Ok(token),
            Err(err) if Instant::now() < deadline => {
                eprintln!("waiting for the admin account: {err}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => {
                return Err(err.context("the admin cannot log in (LOYALTY_ADMIN_EMAIL / LOYALTY_ADMIN_PASSWORD)"));
            }
        }
    }
}

pub async fn create(api: &Api, scenario: &Scenario, rng: &mut StdRng) -> anyhow::Result<World> {
    let run_id = format!("{}-{}", scenario.seed, ulid::Ulid::new().to_string().to_lowercase());
    let regions = &scenario.regions;
    if regions.is_empty() || scenario.users == 0 || scenario.groups == 0 {
        bail!("a scenario needs regions, users and groups");
    }
    let admin = admin_token(api, scenario).await?;

    let mut staff = Vec::new();
    let mut menus = BTreeMap::new();
    let mut offer_discounts = BTreeMap::new();
    for region in regions {
        let email = format!("lt-{run_id}-staff-{region}@loadtest.local");
        let staff_user = new_user(&email, format!("Staff {region}"), region, Some(Role::Staff));
        let created = api.as_user(&admin).sign_up(&staff_user).await.context("create staff")?.value;
        let token = log_in(api, &email, PASSWORD).await?;
        let mut items = Vec::new();
        for (n, name) in ["Soup", "Main", "Dessert"].iter().enumerate() {
            let item = NewCatalogueItem {
                name: format!("{name} {region}-{n}"),
                category: "load".into(),
                price_cents: rng.random_range(250..2_500),
                points_price: rng.random_range(20..200),
                available: None,
            };
            let added = api.as_user(&token).add_item(region, &item).await.context("add a catalogue item")?;
            items.push(added.value.id.to_string());
        }
        menus.insert(region.clone(), items);
        // A tenth off bills from 15.00 for everyone, and half off through offers, which
        // the staff issue and every fourth bill of a group in the region earns.
        let store = api.as_user(&token);
        let tenth = NewDiscount {
            name: format!("Tenth {region}"),
            percent_off: Some(10),
            amount_off_cents: None,
            min_spend_cents: Some(1_500),
            category: None,
            valid_from: None,
            valid_until: None,
            audience: Audience::Everyone,
            every_n_bills: None,
        };
        store.add_discount(region, &tenth).await.context("add a discount")?;
        let half = NewDiscount {
            name: format!("Half {region}"),
            percent_off: Some(50),
            min_spend_cents: None,
            audience: Audience::Offer,
            every_n_bills: Some(4),
            ..tenth
        };
        let half = store.add_discount(region, &half).await.context("add an offer discount")?.value;
        offer_discounts.insert(region.clone(), half.id.to_string());
        staff.push((created.id.to_string(), token));
    }

    let mut customers = Vec::new();
    for i in 0..scenario.users {
        let region = &regions[i % regions.len()];
        let email = format!("lt-{run_id}-c{i}@loadtest.local");
        let user = api.anonymous().sign_up(&new_user(&email, format!("Customer {i}"), region, None)).await;
        let user = user.context("sign up")?.value;
        let personal_group = user.personal_group_id.to_string();
        customers.push(Customer {
            id: user.id.to_string(),
            token: log_in(api, &email, PASSWORD).await?,
            groups: vec![personal_group.clone()],
            personal_group,
        });
    }

    // Group g lives in region g mod n; customers i with i ≡ g or i + 2 ≡ g (mod groups)
    // belong to it, so members come from several regions.
    let mut shared_groups = Vec::new();
    for g in 0..scenario.groups {
        let region = &regions[g % regions.len()];
        let members: Vec<usize> =
            (0..customers.len()).filter(|i| i % scenario.groups == g || (i + 2) % scenario.groups == g).collect();
        let Some(&creator) = members.first() else { bail!("group {g} would have no members: use more users") };
        let new_group =
            NewGroup { name: format!("Load group {g}"), location: "Loadville".into(), region: region.clone() };
        let owner = api.as_user(&customers[creator].token);
        let created = owner.create_group(&new_group).await.context("create a group")?.value;
        let group = created.id.to_string();
        let max_members = u64::try_from(created.max_members).unwrap_or(u64::MAX);
        if members.len() as u64 > max_members {
            bail!(
                "group {g} would have {} members, over the deployment's max_members ({max_members}): use more groups",
                members.len()
            );
        }
        // Every member joins as a customer would: with an invitation from the group's
        // owner (the creator), addressed to them, that lets them redeem.
        for &m in &members {
            if m != creator {
                let invitation = NewInvitation {
                    user_id: Some(customers[m].id.clone()),
                    can_redeem: Some(true),
                    expires_in_secs: None,
                };
                let code = owner.invite(&group, &invitation).await.context("invite to a group")?.value.code;
                let join = NewMember { user_id: customers[m].id.clone(), invitation: Some(code) };
                api.as_user(&customers[m].token)
                    .join(&group, &join)
                    .await
                    .context("join a group with an invitation")?;
            }
            customers[m].groups.push(group.clone());
        }
        let member_regions: std::collections::BTreeSet<&str> = members.iter().map(|&m| &customers[m].id[..3]).collect();
        if member_regions.len() < 2.min(regions.len()) {
            bail!("group {group} has members from one region only: use more users");
        }
        shared_groups.push(group);
    }
    Ok(World { run_id, admin, staff, menus, offer_discounts, customers, shared_groups })
}
