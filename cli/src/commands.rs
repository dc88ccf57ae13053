//! What the command line accepts: global options, and one subcommand per action.

use clap::{Parser, Subcommand};

/// Exit codes: 0 done, 1 refused by the platform, 2 usage, 3 platform unreachable,
/// 4 not logged in.
#[derive(Parser)]
#[command(name = "loyalty", version, about)]
pub struct Args {
    /// The platform's URL (the router); else `LOYALTY_URL`, the config file, the session's.
    #[arg(long, env = "LOYALTY_URL", global = true)]
    pub url: Option<String>,
    /// A PEM bundle of CAs to trust for `https://` URLs, on top of the system's roots (the
    /// local deployment's `make up TLS=1` prints its own).
    #[arg(long, env = "LOYALTY_CA_FILE", global = true)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// The platform's regions and whether they are up.
    Regions,
    /// Create a customer account (asks for the home region when not given).
    Signup {
        #[command(flatten)]
        account: Account,
        #[arg(long)]
        region: Option<String>,
    },
    /// Log in; the session is kept in your config directory (owner-only).
    Login {
        #[arg(long)]
        email: String,
        #[arg(long, env = "LOYALTY_PASSWORD")]
        password: String,
    },
    /// Forget the session.
    Logout,
    /// Change your password: every session of yours is logged out, and this one logs in
    /// again with the new password.
    Password {
        #[arg(long, env = "LOYALTY_PASSWORD")]
        current: String,
        #[arg(long, env = "LOYALTY_NEW_PASSWORD")]
        new: String,
    },
    /// Close your account: what identifies you is erased and you are logged out
    /// everywhere. Leave your groups first. Points left in your personal group are given
    /// up only when you name their number.
    CloseAccount {
        #[arg(long, env = "LOYALTY_PASSWORD")]
        current: String,
        /// The points of your personal group you give up (its balance; `loyalty groups`
        /// shows it), required when it holds any.
        #[arg(long)]
        forfeit_points: Option<u64>,
    },
    /// Your profile.
    Me,
    /// Your groups, with their points, from every region.
    Groups,
    /// Create a group; you are its owner.
    NewGroup {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        location: String,
        /// The region that keeps its points (your home region when not given).
        #[arg(long)]
        region: Option<String>,
    },
    /// A group's members: who owns it, who may redeem.
    Members {
        group: String,
    },
    /// (owner) Invite someone to your group; prints the code to give them.
    Invite {
        group: String,
        /// Whoever joins with it may redeem the group's points.
        #[arg(long)]
        can_redeem: bool,
        /// Only this user may use it.
        #[arg(long = "for")]
        for_user: Option<String>,
        /// 60 to 604800 seconds (default: a day).
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// (owner) Your group's invitations, used and revoked ones included.
    Invitations {
        group: String,
    },
    /// (owner) Revoke an invitation by its id.
    Revoke {
        group: String,
        invitation: String,
    },
    /// Join a group with the invitation code its owner gave you.
    Join {
        code: String,
    },
    Leave {
        group: String,
    },
    /// (owner) Let a member redeem the group's points, or with `--withdraw` no longer.
    Grant {
        group: String,
        user: String,
        #[arg(long)]
        withdraw: bool,
    },
    /// (owner) Remove a member from your group.
    Remove {
        group: String,
        user: String,
    },
    /// (owner) Hand your group over to one of its members.
    HandOver {
        group: String,
        user: String,
    },
    /// Redeem points from a group: `--points N`, or `--item ID [--qty N]`.
    Redeem {
        group: String,
        #[arg(long, conflicts_with = "item")]
        points: Option<i64>,
        #[arg(long)]
        item: Option<String>,
        #[arg(long, default_value_t = 1)]
        qty: i64,
    },
    /// Your activity, newest first.
    Activity {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// A region's menu.
    Catalogue {
        region: String,
    },
    /// (staff) Bill a customer: `--item ID:QTY` once per line.
    Bill(BillArgs),
    /// (staff) What a bill would come to (discount, points), billing nothing.
    Quote(BillArgs),
    /// A bill's receipt: what each line was paid and earned, what came back, the returns.
    Receipt {
        bill: String,
    },
    /// (staff) Take back a bill's items (`--item ID:QTY`), or all that is left.
    Return {
        bill: String,
        #[arg(long = "item")]
        items: Vec<String>,
    },
    /// (staff) Manage your region's menu.
    #[command(subcommand)]
    Item(ItemCommand),
    /// A region's discounts; (staff) add and remove them.
    #[command(subcommand)]
    Discount(DiscountCommand),
    /// A group's offers.
    Offers {
        group: String,
    },
    /// (staff) Issue a group an offer of an `offer` discount.
    Offer {
        group: String,
        #[arg(long)]
        discount: String,
    },
    /// (admin) Create a staff account.
    CreateStaff {
        #[command(flatten)]
        account: Account,
        #[arg(long)]
        region: String,
    },
}

/// A bill, as `bill` and `quote` take it.
#[derive(clap::Args)]
pub struct BillArgs {
    /// The customer's id, or their email.
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long)]
    pub store: String,
    #[arg(long = "item", required = true)]
    pub items: Vec<String>,
}

/// Who a new account is: sign-up and staff creation ask the same.
#[derive(clap::Args)]
pub struct Account {
    #[arg(long)]
    pub email: String,
    #[arg(long, env = "LOYALTY_PASSWORD")]
    pub password: String,
    #[arg(long)]
    pub name: String,
}

#[derive(Subcommand)]
pub enum ItemCommand {
    Add {
        #[arg(long)]
        region: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "mains")]
        category: String,
        #[arg(long)]
        price_cents: i64,
        #[arg(long)]
        points: i64,
    },
    Price {
        item: String,
        price_cents: i64,
    },
    Unavailable {
        item: String,
    },
    Available {
        item: String,
    },
    /// Take an item off the menu for good (`unavailable` keeps it, hidden).
    Remove {
        item: String,
    },
}

#[derive(Subcommand)]
pub enum DiscountCommand {
    List {
        region: String,
    },
    /// `--percent N` or `--amount-cents N`; `--offer` for offers only.
    Add {
        #[arg(long)]
        region: String,
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with = "amount_cents")]
        percent: Option<i32>,
        #[arg(long)]
        amount_cents: Option<i64>,
        #[arg(long)]
        min_spend_cents: Option<i64>,
        #[arg(long)]
        category: Option<String>,
        /// Only for groups holding an offer of it.
        #[arg(long)]
        offer: bool,
        /// (with --offer) Issue an offer on every N-th bill of a group in the region.
        #[arg(long)]
        every_n_bills: Option<i32>,
    },
    Remove {
        discount: String,
    },
}
