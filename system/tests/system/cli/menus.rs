//! The interactive app (`loyalty` with no command) driven through a terminal: menus for
//! staff and customers.

use super::*;

/// The interactive mode in a pseudo-terminal, as a person would use it.
fn menus(url: &str, config: &Path) -> expectrl::session::OsSession {
    let mut command = std::process::Command::new(loyalty_bin());
    command.env("LOYALTY_URL", url).env("LOYALTY_CONFIG_DIR", config).env("TERM", "xterm-256color");
    let mut session = expectrl::Session::spawn(command).unwrap();
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    session
}

/// A prompt that has just been drawn may not be reading yet: switching the terminal's
/// mode can flush keys typed too early. Let it settle, as a person's reaction time would.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";

fn choose_nth(session: &mut expectrl::session::OsSession, n: usize) {
    use expectrl::Expect;
    settle();
    for _ in 0..n {
        session.send(DOWN).unwrap();
    }
    session.send(ENTER).unwrap();
}

fn log_in(session: &mut expectrl::session::OsSession, email: &str, password: &str) {
    use expectrl::Expect;
    session.expect("Welcome to Loyalty").unwrap();
    choose_nth(session, 0);
    session.expect("Email").unwrap();
    settle();
    session.send_line(email).unwrap();
    session.expect("Password").unwrap();
    settle();
    session.send_line(password).unwrap();
    session.expect("Logged in as").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menus_let_staff_bill_and_a_customer_join_and_redeem() {
    let stack = Stack::start(1);
    let url = stack.router.clone();
    let (ann, ann_token) = stack.customer("001").await;
    let staff = stack.staff("001").await;
    stack.add_item(&staff, "001", "Galette", 1_000, 8).await;
    let group = stack.new_group(&staff, "Menu club", "Rennes", "001").await;
    let code = stack.invitation_code(&staff, group.id.as_str(), false).await;
    let (staff_dir, customer_dir) = (stack.state.join("pty-staff"), stack.state.join("pty-customer"));
    let (ann_email, group_id) = (ann.email.clone(), group.id.to_string());

    let url_for_staff = url.clone();
    let ann_email_for_staff = ann_email.clone();
    tokio::task::spawn_blocking(move || {
        use expectrl::Expect;
        let mut s = menus(&url_for_staff, &staff_dir);
        log_in(&mut s, "staff@001.loyalty.local", STAFF_PASSWORD);
        s.expect("What would you like to do?").unwrap();
        choose_nth(&mut s, 0); // Bill a customer
        s.expect("Customer email or id").unwrap();
        settle();
        s.send_line(ann_email_for_staff.to_uppercase()).unwrap();
        s.expect("Customer: Stack Customer").unwrap();
        s.expect("Into which group?").unwrap();
        choose_nth(&mut s, 0); // the personal group
        s.expect("Add an item").unwrap();
        choose_nth(&mut s, 0); // Galette
        s.expect("Quantity").unwrap();
        settle();
        s.send_line("2").unwrap();
        s.expect("Add an item").unwrap();
        choose_nth(&mut s, 1); // Done
        s.expect("Bill 20.00 to Stack Customer?").unwrap();
        settle();
        s.send(ENTER).unwrap();
        s.expect("billed 20.00").unwrap();
        s.expect("What would you like to do?").unwrap();
        choose_nth(&mut s, 6); // Quit
        s.expect(expectrl::Eof).unwrap();
    })
    .await
    .unwrap();

    let url_for_customer = url.clone();
    let menu_token = tokio::task::spawn_blocking(move || {
        use expectrl::Expect;
        let mut s = menus(&url_for_customer, &customer_dir);
        log_in(&mut s, &ann_email, PASSWORD);
        let token = session_token(&customer_dir);
        s.expect("What would you like to do?").unwrap();
        choose_nth(&mut s, 2); // Join a group
        s.expect("Invitation code").unwrap();
        settle();
        s.send_line(&code).unwrap();
        s.expect("You joined").unwrap();
        s.expect("What would you like to do?").unwrap();
        choose_nth(&mut s, 1); // Redeem points
        s.expect("Redeem from which group?").unwrap();
        choose_nth(&mut s, 0); // the personal group, 20 points
        s.expect("A number of points").unwrap();
        choose_nth(&mut s, 0);
        s.expect("Points").unwrap();
        settle();
        s.send_line("5").unwrap();
        s.expect("redeemed 5 points").unwrap();
        s.expect("What would you like to do?").unwrap();
        choose_nth(&mut s, 9); // Log out
        s.expect("Logged out.").unwrap();
        s.expect(expectrl::Eof).unwrap();
        token
    })
    .await
    .unwrap();
    // Logging out from the menu revokes the token on the platform, as `logout` does.
    let res = stack.get(&format!("/v1/users/{}", ann.id), Some(&menu_token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let personal: Group = expect_json(
        stack.get(&format!("/v1/groups/{}", ann.personal_group_id), Some(&ann_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(personal.points, 15, "billed 20, redeemed 5");
    let shared: Group =
        expect_json(stack.get(&format!("/v1/groups/{group_id}"), Some(&ann_token)).await, StatusCode::OK).await;
    assert!(shared.members.iter().any(|m| m.as_str() == ann.id.as_str()));
}
