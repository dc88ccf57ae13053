//! Staff find a customer by email (`GET /v1/users?email=`); nobody else learns from it
//! who has an account.

use crate::support::{TestApp, expect_error, expect_json};
use contract::dto::User;
use reqwest::StatusCode;

#[tokio::test]
async fn staff_find_a_customer_by_email_and_customers_learn_nothing() {
    let app = TestApp::spawn().await;
    let [(user, token), (_, stranger)] = app.customers().await;
    let staff = app.staff_token().await;
    let by_email = |email: &str| format!("/v1/users?email={}", email.replace('@', "%40"));

    // Any case finds them, with what GET /v1/users/{uid} shows.
    let found: User =
        expect_json(app.get(&by_email(&user.email.to_uppercase()), Some(&staff)).await, StatusCode::OK).await;
    let read: User = expect_json(app.get(&format!("/v1/users/{}", user.id), Some(&staff)).await, StatusCode::OK).await;
    assert_eq!((found.id.as_str(), found.groups.len()), (read.id.as_str(), read.groups.len()));
    let admin = app.admin_token().await;
    expect_json::<User>(app.get(&by_email(&user.email), Some(&admin)).await, StatusCode::OK).await;
    expect_error(app.get(&by_email("nobody@test.loyalty"), Some(&staff)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    expect_error(app.get(&by_email("not an email"), Some(&staff)).await, StatusCode::BAD_REQUEST, "invalid_input")
        .await;

    // A customer, even asking for their own email, is refused alike whether the email
    // is anyone's: the answer is no oracle of accounts.
    let mut refusals = Vec::new();
    for email in [user.email.as_str(), "nobody@test.loyalty", "not an email"] {
        for who in [&token, &stranger] {
            let refused =
                expect_error(app.get(&by_email(email), Some(who)).await, StatusCode::FORBIDDEN, "forbidden").await;
            refusals.push(refused["error"]["message"].as_str().unwrap().to_owned());
        }
    }
    refusals.dedup();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    expect_error(app.get(&by_email(&user.email), None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}
