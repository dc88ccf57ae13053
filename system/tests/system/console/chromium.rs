//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! fantoccini), three people at once. A customer signs up and starts a pool, invites; a
//! second customer joins with the code in another browser; staff bill through the till
//! (the confirmation sent again after the back button bills once); the customer sees the
//! chart, redeems with a confirmation, reads the activity, logs out. Each page's
//! screenshot is written to docs/console/ (shown in the README).
//!
//! Needs Debian's `chromium` and `chromium-driver` (make test installs them); where they
//! cannot be had, the test says so and passes without a browser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::browser::Console;
use crate::support::{ADMIN_EMAIL, PASSWORD, STAFF_PASSWORD, Stack};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    url: String,
    /// chromedriver's and its browsers' TMPDIR: Chromium leaves a folder of its own in
    /// it for every browser (its singleton socket), which used to pile up in /tmp.
    scratch: PathBuf,
}

impl Driver {
    fn start() -> Option<Driver> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
        let scratch = std::env::temp_dir().join(format!("loyalty-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TMPDIR", &scratch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Driver { child, url, scratch })
    }

    /// A browser of its own (its own profile, so its own cookies).
    async fn browser(&self, width: u32, height: u32) -> Client {
        self.start_browser(width, height, None).await
    }

    /// A browser with a phone's screen. Headless Chromium's windows are at least 500
    /// pixels wide, so a narrower window is not a phone: the page is laid out for
    /// `width` by Chromium's device emulation instead.
    async fn phone(&self, width: u32, height: u32) -> Client {
        let metrics = json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}});
        self.start_browser(width, height, Some(metrics)).await
    }

    async fn start_browser(&self, width: u32, height: u32, emulation: Option<serde_json::Value>) -> Client {
        let mut options = json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", format!("--window-size={width},{height}")],
        });
        if let Some(emulation) = emulation {
            options["mobileEmulation"] = emulation;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".to_owned(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the page shows `text` (a navigation or an htmx swap has landed).
async fn shows(browser: &Client, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let source = browser.source().await.unwrap();
        if source.contains(text) {
            return source;
        }
        assert!(Instant::now() < deadline, "the page never showed {text:?}: {source}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(browser: &Client, name: &str, value: &str) {
    let field = browser.find(Locator::Css(&format!("[name='{name}']"))).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn press(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Types `text` at whatever has the focus, as a keyboard would (Key's characters included).
async fn keys(browser: &Client, text: &str) {
    let mut typed = KeyActions::new("keyboard".to_owned());
    for value in text.chars() {
        typed = typed.then(KeyAction::Down { value }).then(KeyAction::Up { value });
    }
    browser.perform_actions(typed).await.unwrap();
}

/// Presses Tab until the field named `name` has the focus: the page is usable without a
/// mouse up to there.
async fn tab_to(browser: &Client, name: &str) {
    for _ in 0..20 {
        keys(browser, &char::from(Key::Tab).to_string()).await;
        let focused = browser.execute("return document.activeElement.name || ''", vec![]).await.unwrap();
        if focused == name {
            return;
        }
    }
    panic!("twenty presses of Tab never reached the field {name:?}");
}

/// What a keyboard, a screen reader and a phone need of the page shown: every field has
/// a label, no id is used twice (a label finds its field by id), every link and button
/// takes the focus, and nothing is wider than the window.
async fn usable(browser: &Client) {
    let found = browser
        .execute(
            r#"const fields = [...document.querySelectorAll("input:not([type=hidden]), select, textarea")];
            const ids = [...document.querySelectorAll("[id]")].map(e => e.id);
            return {
                unlabelled: fields.filter(f => f.labels.length === 0 && !f.ariaLabel).map(f => f.outerHTML),
                repeated_ids: ids.filter((id, i) => ids.indexOf(id) !== i),
                unfocusable: [...document.querySelectorAll("a[href], button")].filter(e => e.tabIndex < 0).map(e => e.outerHTML),
                overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            };"#,
            vec![],
        )
        .await
        .unwrap();
    let page = browser.current_url().await.unwrap();
    let expected = json!({"unlabelled": [], "repeated_ids": [], "unfocusable": [], "overflow": 0});
    assert_eq!(found, expected, "{page}");
}

async fn sign_up(browser: &Client, console: &Console, name: &str, email: &str, region: &str) {
    browser.goto(&format!("{}/signup", console.url)).await.unwrap();
    shows(browser, "Home region").await;
    fill(browser, "full_name", name).await;
    fill(browser, "email", email).await;
    fill(browser, "password", PASSWORD).await;
    browser.find(Locator::Css("select[name='home_region']")).await.unwrap().select_by_value(region).await.unwrap();
    press(browser, "form[action='/signup'] button").await;
    shows(browser, "My pools</h1>").await;
}

async fn log_in(browser: &Client, console: &Console, email: &str, password: &str) {
    browser.goto(&format!("{}/login", console.url)).await.unwrap();
    fill(browser, "email", email).await;
    fill(browser, "password", password).await;
    press(browser, "form[action='/login'] button").await;
    shows(browser, "My pools</h1>").await;
}

/// The till: find `customer`, credit `pool` with `qty` of the menu's first item, review.
async fn review_bill(staff: &Client, console: &Console, customer: &str, pool: &str, qty: &str) {
    staff.goto(&format!("{}/till?user_id={customer}", console.url)).await.unwrap();
    shows(staff, "Pool to credit").await;
    staff.find(Locator::Css("select[name='group_id']")).await.unwrap().select_by_value(pool).await.unwrap();
    let quantity = staff.find(Locator::Css("input.qty")).await.unwrap();
    quantity.clear().await.unwrap();
    quantity.send_keys(qty).await.unwrap();
    press(staff, "form[action='/till/review'] button").await;
    shows(staff, "Confirm the bill").await;
}

#[tokio::test]
async fn the_console_in_chromium_from_sign_up_to_logout() {
    let Some(driver) = Driver::start() else {
        eprintln!(
            "SKIPPED: no {CHROMIUM} or {CHROMEDRIVER} (Debian's chromium, chromium-driver); make test installs them"
        );
        return;
    };
    let stack = Stack::start(1);
    let console = Console::start(&stack).await;
    let staff_token = stack.staff("001").await;
    stack.add_item(&staff_token, "001", "Galette complète", 1_450, 40).await;
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    // Long enough that the phone's pages must wrap it (an address is one unbroken word).
    let ann_email = format!("ann-with-a-rather-long-address-{tag}@console.test");

    // Ann signs up and starts a pool.
    let ann = driver.browser(1280, 900).await;
    ann.goto(&format!("{}/signup", console.url)).await.unwrap();
    shows(&ann, "Home region").await;
    shot(&ann, "signup").await;
    sign_up(&ann, &console, "Ann Browser", &ann_email, "001").await;
    fill(&ann, "name", "Browser family").await;
    fill(&ann, "location", "Rennes").await;
    press(&ann, "form[action='/groups'] button").await;
    shows(&ann, "Browser family</h1>").await;
    let pool = ann.current_url().await.unwrap().path().trim_start_matches("/groups/").to_owned();

    // An invitation, made in place by htmx, its code shown once.
    ann.find(Locator::Css("input[name='can_redeem']")).await.unwrap().click().await.unwrap();
    press(&ann, "#invitations form button").await;
    shows(&ann, "id=\"new-code\"").await;
    let code = ann.find(Locator::Css("#new-code")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(code.starts_with(&format!("{pool}.")), "{code}");
    // The copy button (the console's own script): the code goes to the clipboard, or,
    // where the browser refuses the clipboard, it is selected for Ctrl+C.
    press(&ann, "button[data-copy='#new-code']").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while ann.source().await.unwrap().contains(">Copy the code<") {
        assert!(Instant::now() < deadline, "the copy button never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let source = ann.source().await.unwrap();
    assert!(source.contains(">Copied<") || source.contains(">Selected: press Ctrl+C<"), "{source}");
    shot(&ann, "invitation").await;

    // Ben joins with the code in a browser of his own.
    let ben = driver.browser(1280, 900).await;
    sign_up(&ben, &console, "Ben Browser", &format!("ben-{tag}@console.test"), "002").await;
    fill(&ben, "code", &code).await;
    press(&ben, "form[action='/join'] button").await;
    shows(&ben, "Browser family</h1>").await;

    // Staff bill Ann's pool twice; the first confirmation is sent again after the back
    // button, and bills once.
    let profile = {
        ann.goto(&format!("{}/profile", console.url)).await.unwrap();
        shows(&ann, "Personal pool").await
    };
    let ann_id = profile.split("<th>Id</th><td><code>").nth(1).and_then(|s| s.split('<').next()).unwrap().to_owned();
    let staff = driver.browser(1280, 900).await;
    log_in(&staff, &console, "staff@001.loyalty.local", STAFF_PASSWORD).await;
    review_bill(&staff, &console, &ann_id, &pool, "2").await;
    shot(&staff, "till-review").await;
    press(&staff, "form[action='/till/bill'] button").await;
    shows(&staff, "29 points to pool").await;
    staff.back().await.unwrap();
    shows(&staff, "Confirm the bill").await;
    press(&staff, "form[action='/till/bill'] button").await;
    shows(&staff, "it was billed once").await;
    shot(&staff, "till-billed").await;
    review_bill(&staff, &console, &ann_id, &pool, "1").await;
    press(&staff, "form[action='/till/bill'] button").await;
    shows(&staff, "14 points to pool").await;

    // Ann: the chart, a redemption with its confirmation, the activity.
    ann.goto(&format!("{}/groups/{pool}", console.url)).await.unwrap();
    let page = shows(&ann, "43 points").await;
    assert!(page.contains("<polyline"), "the chart is drawn");
    shot(&ann, "pool").await;
    fill(&ann, "points", "20").await;
    press(&ann, "form[action$='/redeem'] button").await;
    shows(&ann, "Confirm the redemption").await;
    shot(&ann, "redeem-confirm").await;
    press(&ann, "form[action$='/redeem'] button").await;
    shows(&ann, "20 points redeemed; the pool now holds 23").await;
    ann.goto(&format!("{}/activity", console.url)).await.unwrap();
    let activity = shows(&ann, "Activity</h1>").await;
    assert_eq!((activity.matches("bill of").count(), activity.matches(">redeem<").count()), (2, 1), "{activity}");
    shot(&ann, "activity").await;
    ann.goto(&format!("{}/menus", console.url)).await.unwrap();
    shows(&ann, "Galette complète").await;
    shot(&ann, "menus").await;
    ann.goto(&format!("{}/pools", console.url)).await.unwrap();
    shows(&ann, "Browser family").await;
    shot(&ann, "pools").await;
    // Ann again on a phone, with the keyboard alone: Tab to the form, type, Enter. Each of
    // her pages, and the till's on a phone of staff's, fit the screen and label their fields.
    let phone = driver.phone(390, 844).await;
    phone.goto(&format!("{}/signup", console.url)).await.unwrap();
    usable(&phone).await;
    phone.goto(&format!("{}/login", console.url)).await.unwrap();
    usable(&phone).await;
    tab_to(&phone, "email").await;
    keys(&phone, &format!("{ann_email}{}{PASSWORD}{}", char::from(Key::Tab), char::from(Key::Enter))).await;
    shows(&phone, "My pools</h1>").await;
    shot(&phone, "pools-phone").await;
    for page in ["/pools", &format!("/groups/{pool}"), "/activity", "/menus", "/profile"] {
        phone.goto(&format!("{}{page}", console.url)).await.unwrap();
        usable(&phone).await;
    }
    phone.goto(&format!("{}/groups/{pool}", console.url)).await.unwrap();
    shot(&phone, "pool-phone").await;
    let till = driver.phone(390, 844).await;
    log_in(&till, &console, "staff@001.loyalty.local", STAFF_PASSWORD).await;
    for page in ["/till", &format!("/till?user_id={ann_id}"), "/till/menu", "/till/discounts", "/till/returns"] {
        till.goto(&format!("{}{page}", console.url)).await.unwrap();
        usable(&till).await;
    }
    review_bill(&till, &console, &ann_id, &pool, "1").await;
    usable(&till).await;

    // The admin page, then Ann logs out.
    let admin = driver.browser(1280, 900).await;
    log_in(&admin, &console, ADMIN_EMAIL, PASSWORD).await;
    admin.goto(&format!("{}/admin", console.url)).await.unwrap();
    shows(&admin, "Healthy API instances").await;
    usable(&admin).await;
    shot(&admin, "admin").await;
    press(&ann, "form[action='/logout'] button").await;
    shows(&ann, "Log in</h1>").await;

    let pool_now = stack.api.with_token(stack.login(&ann_email, PASSWORD).await.token);
    assert_eq!(pool_now.group(&pool).await.unwrap().value.points, 23, "two bills and one redemption, each once");
    for browser in [ann, ben, staff, phone, till, admin] {
        browser.close().await.unwrap();
    }
}
