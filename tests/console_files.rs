//! The staff console's files (SPEC §9): `/` sends the browser to `/console/`,
//! the embedded files come with their types, revalidation and a content
//! security policy, and no path outside the fixed list reaches anything.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Backend, TestApp, spawn};
use reqwest::header;

async fn app() -> TestApp {
    spawn(Backend::Sqlite, |_| {}).await.expect("sqlite app")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A request line sent as written, so `..` reaches the server unresolved
/// (an HTTP client library would normalise it away).
fn raw_status(base: &str, target: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_and_the_bare_path_redirect_to_the_console() {
    let app = app().await;
    for path in ["/", "/console"] {
        let res = no_redirects()
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "{path}");
        assert_eq!(res.headers()[header::LOCATION], "/console/", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_come_with_their_types_and_are_revalidated() {
    let app = app().await;
    for (path, content_type, marker) in [
        ("/console/", "text/html; charset=utf-8", "监管站工作台"),
        (
            "/console/index.html",
            "text/html; charset=utf-8",
            "待办队列",
        ),
        (
            "/console/console.css",
            "text/css; charset=utf-8",
            ".timeline",
        ),
        (
            "/console/console.js",
            "text/javascript; charset=utf-8",
            "sessionStorage",
        ),
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let headers = res.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let body = res.text().await.unwrap();
        assert!(body.contains(marker), "{path} holds {marker}");

        // The same file again, revalidated by its tag: 304 and no body.
        let tag = headers[header::ETAG].clone();
        let again = app
            .client
            .get(format!("{}{path}", app.base))
            .header(header::IF_NONE_MATCH, tag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()[header::ETAG], tag);
        assert!(again.text().await.unwrap().is_empty());
        // A stale tag gets the file.
        let stale = app
            .client
            .get(format!("{}{path}", app.base))
            .header(header::IF_NONE_MATCH, "\"stale\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_console_files_is_served() {
    let app = app().await;
    for target in [
        "/console/../Cargo.toml",
        "/console/..%2FCargo.toml",
        "/console/%2e%2e/Cargo.toml",
        "/console/%2e%2e%2fsrc%2fmain.rs",
        "/console/assets/console.js",
        "/console/mod.rs",
        "/console/nope.js",
        "/console/index.html/",
        "/Cargo.toml",
    ] {
        assert_eq!(raw_status(&app.base, target), 404, "{target}");
    }
    // The console's files do not answer other methods.
    let post = app
        .client
        .post(format!("{}/console/console.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404);
}
