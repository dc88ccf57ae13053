//! A browser without scripts for the console tests: one session cookie, no redirects
//! followed (the tests look at them), and every form posted with the CSRF token of the
//! page the session last saw, as the page's own form would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};

use crate::support::{PASSWORD, STAFF_PASSWORD, Stack};

/// The console, in this process, in front of a stack's router.
pub struct Console {
    pub url: String,
}

impl Console {
    /// The console as `make up` runs it: vouching for its visitors' addresses.
    pub async fn start(stack: &Stack) -> Console {
        Self::start_vouching(stack, true).await
    }

    /// `vouching: false` leaves out the router's proxy token: every visitor is then the
    /// console's own address to the router.
    pub async fn start_vouching(stack: &Stack, vouching: bool) -> Console {
        let config = web::Config {
            listen: "127.0.0.1:0".to_owned(),
            platform_url: stack.router.clone(),
            router_metrics_url: Some(stack.router_admin.clone()),
            workers: Some(1),
            proxy_token: vouching.then(|| stack.proxy_token()),
            ..web::Config::default()
        };
        let app = web::Application::build(config).unwrap();
        let url = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        Console { url }
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }
}

/// The values of the fields `names` of the form in `page`, as a browser posts them.
pub fn hidden_fields<'a>(page: &'a str, names: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    names.iter().map(|name| (*name, field(page, name))).collect()
}

/// The value of the first field `name` in `page` (a form's hidden `attempt` or `key`).
pub fn field<'a>(page: &'a str, name: &str) -> &'a str {
    between(page, &format!("name=\"{name}\" value=\""), "\"")
}

/// The text between the first `start` and the next `end` after it.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).map(|i| i + start.len()).unwrap_or_else(|| panic!("no {start:?} in {text}"));
    let to = text[from..].find(end).map(|i| from + i).unwrap_or(text.len());
    &text[from..to]
}

pub struct Browser {
    http: client::Client,
    cookie: Option<String>,
    csrf: Option<String>,
    /// The last Set-Cookie header, attributes included.
    pub set_cookie_seen: Option<String>,
}

impl Browser {
    pub fn new(console: &Console) -> Browser {
        // The typed client's pool and its raw requests: it follows no redirects.
        let http = client::Client::new(&console.url).unwrap();
        Browser { http, cookie: None, csrf: None, set_cookie_seen: None }
    }

    /// A browser connecting from `address` (any 127.x.y.z is this machine), so a test
    /// can be several visitors.
    pub fn from_address(console: &Console, address: &str) -> Browser {
        let http = client::Client::builder(&console.url).local_address(address.parse().unwrap()).build().unwrap();
        Browser { http, cookie: None, csrf: None, set_cookie_seen: None }
    }

    /// A session logged in through the console's own login form.
    pub async fn logged_in(console: &Console, stack: &Stack, email: &str) -> Browser {
        let password = if email.starts_with("staff@") { STAFF_PASSWORD } else { PASSWORD };
        let _ = stack; // the stack's accounts are made by its own scripts and tests
        let mut browser = Browser::new(console);
        browser.get("/login").await;
        let res = browser.post("/login", &[("email", email), ("password", password)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "login of {email}: {}", res.body);
        // A login starts a new session with a new CSRF token: the pools page carries it.
        assert_eq!(browser.get("/pools").await.status, StatusCode::OK);
        browser
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = match &self.cookie {
            Some(cookie) => req.header(COOKIE, cookie),
            None => req,
        };
        let res = req.send().await.unwrap();
        if let Some(set) = res.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            self.set_cookie_seen = Some(set.to_owned());
            self.cookie = Some(set.split(';').next().unwrap_or("").to_owned());
        }
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res.text().await.unwrap();
        if let Some(i) = body.find("name=\"csrf\" value=\"") {
            self.csrf = Some(between(&body[i..], "value=\"", "\"").to_owned());
        }
        Answer { status, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.raw(Method::GET, path);
        self.send(req).await
    }

    /// A GET as htmx sends it: the page answers with the part htmx swaps in.
    pub async fn get_htmx(&mut self, path: &str) -> Answer {
        let req = self.http.raw(Method::GET, path).header("HX-Request", "true");
        self.send(req).await
    }

    /// Posts a form with this session's CSRF token (fetching a page first if none is known).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        if self.csrf.is_none() {
            self.get("/login").await;
        }
        let csrf = self.csrf.clone().unwrap();
        self.post_with_csrf(path, &csrf, fields).await
    }

    pub async fn post_with_csrf(&mut self, path: &str, csrf: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf)];
        form.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&form).unwrap();
        let req =
            self.http.raw(Method::POST, path).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        self.send(req).await
    }
}
