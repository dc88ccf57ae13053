//! The world a run plays in, created through the public API: staff per region (made by
//! the admin), a small menu per region, customers spread over the regions, and shared
//! groups spread over the regions with members from several regions each.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::client::{Api, Reply};
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
    pub customers: Vec<Customer>,
    pub shared_groups: Vec<String>,
}

impl World {
    /// Every group the run writes to: the shared ones and each customer's personal one.
    pub fn all_groups(&self) -> Vec<String> {
        self.shared_groups.iter().cloned().chain(self.customers.iter().map(|c| c.personal_group.clone())).collect()
    }
}

fn expect(reply: Reply, status: u16, what: &str) -> anyhow::Result<Value> {
    if reply.status != status {
        bail!("{what}: expected {status}, got {} {}", reply.status, reply.body);
    }
    Ok(reply.body)
}

fn field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name].as_str().map(str::to_owned).with_context(|| format!("no {name} in {body}"))
}

async fn log_in(api: &Api, email: &str, password: &str) -> anyhow::Result<String> {
    let reply = api.post("/v1/sessions", None, &json!({"email": email, "password": password})).await?;
    field(&expect(reply, 201, &format!("log in {email}"))?, "token")
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
    for region in regions {
        let email = format!("lt-{run_id}-staff-{region}@loadtest.local");
        let body = json!({"email": email, "password": PASSWORD, "full_name": format!("Staff {region}"), "home_region": region, "role": "staff"});
        let created = expect(api.post("/v1/users", Some(&admin), &body).await?, 201, "create staff")?;
        let token = log_in(api, &email, PASSWORD).await?;
        let mut items = Vec::new();
        for (n, name) in ["Soup", "Main", "Dessert"].iter().enumerate() {
            let body = json!({"name": format!("{name} {region}-{n}"), "category": "load", "price_cents": rng.random_range(250..2_500), "points_price": rng.random_range(20..200)});
            let reply = api.post(&format!("/v1/regions/{region}/catalogue"), Some(&token), &body).await?;
            items.push(field(&expect(reply, 201, "add a catalogue item")?, "id")?);
        }
        menus.insert(region.clone(), items);
        staff.push((field(&created, "id")?, token));
    }

    let mut customers = Vec::new();
    for i in 0..scenario.users {
        let region = &regions[i % regions.len()];
        let email = format!("lt-{run_id}-c{i}@loadtest.local");
        let body =
            json!({"email": email, "password": PASSWORD, "full_name": format!("Customer {i}"), "home_region": region});
        let user = expect(api.post("/v1/users", None, &body).await?, 201, "sign up")?;
        let personal_group = field(&user, "personal_group_id")?;
        customers.push(Customer {
            id: field(&user, "id")?,
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
        let body = json!({"name": format!("Load group {g}"), "location": "Loadville", "region": region});
        let created =
            expect(api.post("/v1/groups", Some(&customers[creator].token), &body).await?, 201, "create a group")?;
        let group = field(&created, "id")?;
        let max_members = created["max_members"].as_u64().unwrap_or(u64::MAX);
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
                let invitation = json!({"user_id": customers[m].id, "can_redeem": true});
                let reply = api
                    .post(&format!("/v1/groups/{group}/invitations"), Some(&customers[creator].token), &invitation)
                    .await?;
                let code = field(&expect(reply, 201, "invite to a group")?, "code")?;
                let reply = api
                    .post(
                        &format!("/v1/groups/{group}/members"),
                        Some(&customers[m].token),
                        &json!({"user_id": customers[m].id, "invitation": code}),
                    )
                    .await?;
                expect(reply, 201, "join a group with an invitation")?;
            }
            customers[m].groups.push(group.clone());
        }
        let member_regions: std::collections::BTreeSet<&str> = members.iter().map(|&m| &customers[m].id[..3]).collect();
        if member_regions.len() < 2.min(regions.len()) {
            bail!("group {group} has members from one region only: use more users");
        }
        shared_groups.push(group);
    }
    Ok(World { run_id, admin, staff, menus, customers, shared_groups })
}
