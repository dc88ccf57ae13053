//! `loyalty-bench`: side-by-side benchmarks that print figures, never assert.
//!
//! - `compare`: the same kind of GET against several targets in alternating rounds of
//!   one run, so all see the same machine noise; a table and ratios against the first.
//! - `redeem`: redemptions (`POST /v1/groups/{g}/redemptions`, a fresh key each) against
//!   a set of groups for one round; prints its figures as JSON (`infra/local/bench.py`
//!   alternates these rounds with pgbench running the same SQL).
//! - `bill`: bills of one item (`POST /v1/bills`, a fresh key each) for a user into a set
//!   of groups for one round, figures as JSON, like `redeem`.
//! - `hop`: sets up a customer, then `compare`s one group GET direct and via the router
//!   (and via nginx and `loyalty-bare-proxy`, if given).
//! - `cpu`: the CPU seconds so far of some process trees, for rounds run by others.

mod cpu;
mod figures;
mod load;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args as ClapArgs, Parser, Subcommand};
use client::{Client, Retry};
use contract::dto::{BillLine, NewBill, NewRedemption, NewUser};
use serde_json::{Value, json};

use crate::cpu::Component;
use crate::figures::{Figures, print_table};
use crate::load::{Attempt, get_all, round};

#[derive(Parser)]
#[command(about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(ClapArgs, Clone)]
struct Shape {
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Rounds per target, alternating.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Processes whose CPU time per request to report (`NAME=PID,…`, children included).
    #[arg(long = "cpu", value_parser = cpu::parse_component)]
    cpu: Vec<Component>,
}

#[derive(Subcommand)]
enum Command {
    /// GET each target (NAME=URL, or NAME=URL|URL|… for GETs at once) in alternating rounds.
    Compare {
        #[command(flatten)]
        shape: Shape,
        /// Bearer token sent with every request.
        #[arg(long)]
        token: Option<String>,
        /// What is measured, printed above the table.
        #[arg(long, default_value = "GET")]
        title: String,
        #[arg(required = true, value_parser = parse_target)]
        targets: Vec<(String, String)>,
    },
    /// One round of redemptions of 1 point each against GROUPS; figures as JSON.
    Redeem(PointsRound),
    /// One round of bills of ITEM for USER into GROUPS (the user a member of each); figures
    /// as JSON.
    Bill {
        #[command(flatten)]
        round: PointsRound,
        #[arg(long)]
        user: String,
        #[arg(long)]
        item: String,
    },
    /// CPU seconds so far of each component, as JSON (`infra/local/bench.py` reads it
    /// around pgbench's rounds).
    Cpu {
        #[arg(long = "cpu", value_parser = cpu::parse_component, required = true)]
        cpu: Vec<Component>,
    },
    /// Direct to a regional API versus through the router (and nginx, if given).
    Hop {
        #[command(flatten)]
        shape: Shape,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        router: String,
        /// Base URL of region 001's API instance.
        #[arg(long, default_value = "http://127.0.0.1:8101")]
        direct: String,
        /// Base URL of an nginx routing by id prefix to the same APIs.
        #[arg(long)]
        nginx: Option<String>,
        /// Base URL of `loyalty-bare-proxy` forwarding to the same API: the floor of any
        /// proxy on hyper.
        #[arg(long)]
        bare: Option<String>,
    },
}

/// One round of keyed points writes: where, as whom (a staff token for bills), on which
/// groups, how hard.
#[derive(ClapArgs, Clone)]
struct PointsRound {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long)]
    token: String,
    /// Group ids, comma-separated; each request picks one at random.
    #[arg(long, value_delimiter = ',', required = true)]
    groups: Vec<String>,
    #[arg(long, default_value_t = 20)]
    concurrency: usize,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Processes whose CPU time per request to report (`NAME=PID,…`, children included).
    #[arg(long = "cpu", value_parser = cpu::parse_component)]
    cpu: Vec<Component>,
}

fn parse_target(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(n, u)| (n.to_owned(), u.to_owned())).ok_or_else(|| format!("expected NAME=URL: {text}"))
}

/// A client of whole URLs (its base is empty) with a pool for `concurrency` workers; a
/// request is sent once unless `retry` says more.
fn client(concurrency: usize, retry: Retry) -> anyhow::Result<Client> {
    Ok(Client::builder("")
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(10))
        .retry(retry)
        .build()?)
}

async fn compare(
    shape: Shape,
    token: Option<String>,
    title: &str,
    targets: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let client = client(shape.concurrency, Retry::never())?;
    let client = match token {
        Some(token) => client.with_token(token),
        None => client,
    };
    // A target of several URLs (`A|B|C`) GETs them all at once.
    let send_to = |url: &str| {
        let urls: Arc<Vec<String>> = Arc::new(url.split('|').map(str::to_owned).collect());
        let client = client.clone();
        move |_, _| {
            let (client, urls) = (client.clone(), urls.clone());
            async move { get_all(&client, &urls).await }
        }
    };
    // Warm every target's connections and caches.
    for (_, url) in &targets {
        round(shape.concurrency, 1, &[], &mut Figures::new()?, send_to(url)).await?;
    }
    let mut figures: Vec<(String, Figures)> =
        targets.iter().map(|(name, _)| Ok((name.clone(), Figures::new()?))).collect::<anyhow::Result<_>>()?;
    for r in 0..shape.rounds {
        for (i, (name, url)) in targets.iter().enumerate() {
            round(shape.concurrency, shape.seconds, &shape.cpu, &mut figures[i].1, send_to(url)).await?;
            eprintln!("round {} {name}: {:.0} req/s", r + 1, figures[i].1.throughputs.last().copied().unwrap_or(0.0));
        }
    }
    println!(
        "{title}: {} alternating rounds of {} s per target, {} concurrent clients\n",
        shape.rounds, shape.seconds, shape.concurrency
    );
    print_table(&figures);
    Ok(())
}

/// One round of keyed points writes (a fresh key each) against `groups`, figures as JSON.
async fn points_round(
    PointsRound { url, token, groups, concurrency, seconds, cpu }: PointsRound,
    request: impl Fn(Client, String, String) -> futures_util::future::BoxFuture<'static, client::Result<u32>>
    + Send
    + Sync
    + 'static,
) -> anyhow::Result<()> {
    // Sent again with the same key while the platform asks to wait (503, in progress).
    let retry = Retry { attempts: 8, base: Duration::from_millis(5), max: Duration::from_millis(640) };
    let client = client(concurrency, retry)?.with_base(&url).with_token(token);
    let run = ulid::Ulid::new().to_string();
    let (groups, run, request) = (Arc::new(groups), Arc::new(run), Arc::new(request));
    let send = move |worker: usize, n: u64| {
        let (client, groups, run, request) = (client.clone(), groups.clone(), run.clone(), request.clone());
        async move {
            let group = groups[(n as usize * 7919 + worker * 104_729) % groups.len()].clone();
            match request(client, group, format!("bench-{run}-{worker}-{n}")).await {
                Ok(retries) => Attempt { ok: true, retries: u64::from(retries) },
                Err(err) => Attempt { ok: false, retries: u64::from(err.retries()) },
            }
        }
    };
    let mut figures = Figures::new()?;
    round(concurrency, seconds, &cpu, &mut figures, send).await?;
    println!("{}", serde_json::to_string(&figures.summary())?);
    Ok(())
}

async fn hop(
    shape: Shape,
    router: String,
    direct: String,
    nginx: Option<String>,
    bare: Option<String>,
) -> anyhow::Result<()> {
    let client = client(1, Retry::default())?.with_base(&router);
    // A customer of region 001 and their personal group: the GET every path serves.
    let email = format!("bench-{}@bench.test", ulid::Ulid::new().to_string().to_lowercase());
    let password = "bench password 1";
    let new_user = NewUser::new(&email, password, "Bench", "001");
    let user = client.sign_up(&new_user).await.context("sign up")?.value;
    let token = client.log_in(&email, password).await.context("log in")?.value.token;
    let group = user.personal_group_id;
    let path = format!("/v1/groups/{group}");
    let mut targets =
        vec![("direct".to_owned(), format!("{direct}{path}")), ("router".to_owned(), format!("{router}{path}"))];
    if let Some(nginx) = nginx {
        targets.push(("nginx".to_owned(), format!("{nginx}{path}")));
    }
    if let Some(bare) = bare {
        targets.push(("bare-proxy".to_owned(), format!("{bare}{path}")));
    }
    compare(shape, Some(token), &format!("GET {path}"), targets).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tls::install_default_provider();
    match Args::parse().command {
        Command::Compare { shape, token, title, targets } => compare(shape, token, &title, targets).await,
        Command::Redeem(round) => {
            let points = NewRedemption { points: Some(1), item_id: None, qty: None };
            points_round(round, move |client, group, key| {
                let points = points.clone();
                Box::pin(async move { client.redeem(&group, &points, &key).await.map(|reply| reply.retries) })
            })
            .await
        }
        Command::Bill { round, user, item } => {
            points_round(round, move |client, group, key| {
                let bill = NewBill {
                    user_id: user.clone(),
                    group_id: Some(group),
                    store_region: "001".to_owned(),
                    items: vec![BillLine { item_id: item.clone(), qty: 1 }],
                };
                Box::pin(async move { client.bill(&bill, &key).await.map(|reply| reply.retries) })
            })
            .await
        }
        Command::Cpu { cpu } => {
            let seconds: serde_json::Map<String, Value> =
                cpu.iter().map(|c| (c.name.clone(), json!(c.seconds()))).collect();
            println!("{}", Value::Object(seconds));
            Ok(())
        }
        Command::Hop { shape, router, direct, nginx, bare } => hop(shape, router, direct, nginx, bare).await,
    }
}
