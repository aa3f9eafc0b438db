//! The staff console in a real browser: headless Chromium from Debian driven
//! over WebDriver by its chromedriver, against the gateway on loopback. A
//! station member signs in, filters the queue, opens a case, claims, accepts
//! and closes it, records a follow-up, reads the month's report with its
//! chart and downloads the CSV. Each step saves a screenshot; the browser's
//! console must stay free of errors throughout.
//!
//! Without chromedriver the test says so and passes (as the PostgreSQL half
//! of the suite does without `DATABASE_URL`); with `ODR_REQUIRE_BROWSER=1`
//! (set by `.ci/run`) a missing browser fails it instead.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, TestApp, World, id, intake, spawn, world};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver() -> Option<Driver> {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("ODR_REQUIRE_BROWSER").is_err(),
            "ODR_REQUIRE_BROWSER is set but {CHROMEDRIVER} or {CHROMIUM} is missing \
             (apt-get install chromium chromium-driver)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "browser test skipped: {CHROMEDRIVER} or {CHROMIUM} is not installed \
             (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let status = format!("{}/status", driver.url);
    common::eventually(WAIT, || {
        let status = status.clone();
        async move {
            reqwest::get(&status)
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;
    Some(driver)
}

async fn browser(driver: &Driver, downloads: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,800", "--lang=zh-CN"],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// chromedriver's browser log since the last read (its `se/log` command).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The browser console's errors since the last call, leaving out the
/// network lines of answers the step provoked on purpose (`expected`,
/// e.g. "401" for a wrong password).
async fn console_errors(c: &Client, expected: &[&str]) -> Vec<String> {
    let log = c.issue_cmd(BrowserLog).await.expect("browser log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
        .filter(|m| {
            !expected
                .iter()
                .any(|e| m.contains(&format!("status of {e}")))
        })
        .collect()
}

struct Steps {
    client: Client,
    dir: PathBuf,
    n: u32,
}

impl Steps {
    /// Saves a screenshot of the page as it stands and checks the console.
    async fn shot(&mut self, name: &str, expected_errors: &[&str]) {
        self.n += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.dir.join(format!("{:02}-{name}.png", self.n));
        std::fs::write(&path, png).expect("save screenshot");
        let errors = console_errors(&self.client, expected_errors).await;
        assert!(
            errors.is_empty(),
            "browser console errors at {name}: {errors:?}"
        );
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    /// Clicks `css` once it is on the page; an element redrawn between
    /// finding and clicking it is found again.
    async fn click(&self, css: &str) {
        common::eventually(WAIT, || async {
            match self.find(css).await.click().await {
                Ok(()) => Some(()),
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
                {
                    None
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        })
        .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script")
    }

    /// Waits until `script` (an expression) is true in the page.
    async fn until(&self, script: &str) {
        let client = self.client.clone();
        let body = format!("return Boolean({script});");
        common::eventually(WAIT, || {
            let client = client.clone();
            let body = body.clone();
            async move {
                client
                    .execute(&body, vec![])
                    .await
                    .ok()
                    .filter(|v| v == &Value::Bool(true))
            }
        })
        .await;
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }
}

/// Cases of March at 东城: one straight to the station (`queue_case`), one
/// closed earlier in the month and sampled for a follow-up in April.
struct Month {
    queue_case: String,
    followup_case: String,
    extension: String,
}

async fn station_step(app: &TestApp, token: &str, case: &str, step: &str, body: Value) {
    app.post(&format!("/v1/queue/{case}/{step}"), token, body)
        .await
        .expect(200);
}

async fn prepare(app: &TestApp, w: &World) -> Month {
    // The test clock starts on 2026-03-02 09:00 Beijing time.
    let submit = || async {
        id(&app
            .post("/v1/complaints", &w.partner, intake(&w.unenrolled_code))
            .await
            .expect(201))
    };
    let followup_case = submit().await;
    for (step, body) in [
        ("claim", json!({})),
        ("decision", json!({"accept": true})),
        (
            "close",
            json!({"result": "mediated", "recovered_cents": 5000, "note": "商家退款50元"}),
        ),
    ] {
        station_step(app, &w.dc_staff, &followup_case, step, body).await;
    }
    let queue_case = submit().await;
    submit().await;
    // And one at 园林, so the report's chart has two stations with cases.
    let mut yl = intake(&w.unenrolled_code);
    yl["station_code"] = json!("QJ-YL");
    app.post("/v1/complaints", &w.partner, yl).await.expect(201);
    // April: March's follow-ups are drawn.
    app.set_clock("2026-04-01T09:00:00+08:00").await;
    // And a merchant's case in April whose merchant asks for more time.
    let at_merchant = id(&app
        .post("/v1/complaints", &w.partner, intake(&w.merchant_code))
        .await
        .expect(201));
    app.get(&format!("/v1/inbox/{at_merchant}"), &w.merchant)
        .await
        .expect(200);
    app.post(
        &format!("/v1/inbox/{at_merchant}/acknowledge"),
        &w.merchant,
        json!({}),
    )
    .await
    .expect(200);
    let extension = app
        .post(
            &format!("/v1/inbox/{at_merchant}/extension"),
            &w.merchant,
            json!({"working_days": 5, "reason": "需等待厂家检测报告"}),
        )
        .await
        .expect(201);
    Month {
        queue_case,
        followup_case,
        extension: id(&extension),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_member_works_a_month_in_the_console() {
    // The gateway first: it sets up TLS for the HTTP client the driver check uses.
    let app = spawn(Backend::Sqlite, |_| {}).await.expect("sqlite app");
    let Some(driver) = start_driver().await else {
        return;
    };
    let w = world(&app).await;
    let month = prepare(&app, &w).await;

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
    let _ = std::fs::remove_dir_all(&dir);
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).expect("output folder");
    let client = browser(&driver, &downloads).await;
    let mut s = Steps {
        client: client.clone(),
        dir: dir.clone(),
        n: 0,
    };

    // `/` leads to the console's sign-in page.
    client.goto(&app.base).await.expect("open");
    s.find("#login-username").await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/")
    );
    s.shot("login", &[]).await;

    // A wrong password is said in words (its 401 is expected in the log).
    s.find("#login-username")
        .await
        .send_keys("dc1")
        .await
        .unwrap();
    s.find("#login-password")
        .await
        .send_keys("wrong-password")
        .await
        .unwrap();
    s.click("#login-submit").await;
    s.until("!document.getElementById('login-error').hidden")
        .await;
    assert!(s.text("#login-error").await.contains("用户名或密码错误"));
    s.shot("login-refused", &["401"]).await;

    // Signed in with the keyboard alone: the password field, then Enter.
    let password = s.find("#login-password").await;
    password.clear().await.unwrap();
    password
        .send_keys("staff-password-1\u{E007}")
        .await
        .unwrap();
    s.until("document.querySelectorAll('#queue-table tbody tr').length === 3")
        .await;
    assert_eq!(
        s.js("return sessionStorage.length + localStorage.length + document.cookie.length")
            .await,
        json!(1),
        "the token is in sessionStorage only"
    );
    s.shot("queue", &[]).await;

    // The merchant's extension request waits under the queue; approved there.
    let approve = format!("#ext-approve-{}", month.extension);
    s.find(&approve).await;
    assert!(
        s.text("#extension-list")
            .await
            .contains("需等待厂家检测报告")
    );
    s.click(&approve).await;
    s.until("document.getElementById('extensions').hidden")
        .await;
    let decided = app.get("/v1/extensions", &w.dc_staff).await.expect(200);
    let decided = decided["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == month.extension.as_str())
        .cloned()
        .expect("the extension");
    assert_eq!(decided["status"], "approved");

    // Filter: the waiting ones (待认领) are the two not yet claimed.
    s.find("#filter-status")
        .await
        .select_by_value("escalated")
        .await
        .unwrap();
    s.click("#queue-apply").await;
    s.until("document.querySelectorAll('#queue-table tbody tr').length === 2")
        .await;
    let rows = s
        .js("return [...document.querySelectorAll('#queue-table tbody tr')].map(r => r.dataset.id)")
        .await;
    assert!(rows.as_array().unwrap().contains(&json!(month.queue_case)));
    s.shot("queue-filtered", &[]).await;

    // A case: its timeline, then claim, accept, initial feedback, close.
    s.click(&format!("tr[data-id='{}'] a", month.queue_case))
        .await;
    s.find("#act-claim").await;
    assert_eq!(s.text("#case-status").await, "待认领");
    assert!(s.text("#timeline").await.contains("接收投诉"));
    assert!(
        s.js("return document.querySelector('#act-accept') === null")
            .await
            == json!(true),
        "no accept button before the claim"
    );
    s.shot("case", &[]).await;

    // A colleague claims it first: the console's claim is refused (409) and
    // says so in words; once the colleague lets it go, it can be claimed.
    station_step(&app, &w.dc_staff_2, &month.queue_case, "claim", json!({})).await;
    s.click("#act-claim").await;
    s.until("!document.getElementById('action-error').hidden")
        .await;
    assert!(s.text("#action-error").await.contains("案件状态已经变化"));
    // The case is shown as it now stands: claimed by the colleague, nothing to do.
    assert_eq!(s.text("#case-status").await, "已认领");
    assert!(s.text("#no-actions").await.contains("没有"));
    s.shot("case-conflict", &["409"]).await;
    station_step(&app, &w.dc_staff_2, &month.queue_case, "release", json!({})).await;
    s.click("#back-to-queue").await;
    s.click(&format!("tr[data-id='{}'] a", month.queue_case))
        .await;
    s.find("#act-claim").await;
    s.click("#act-claim").await;
    s.until("document.getElementById('case-status').textContent === '已认领'")
        .await;
    s.click("#act-accept").await;
    s.until("document.getElementById('case-status').textContent === '已受理'")
        .await;
    s.find("#act-feedback-note")
        .await
        .send_keys("已联系商家与消费者")
        .await
        .unwrap();
    s.click("#act-feedback").await;
    s.until("document.getElementById('act-feedback') === null && document.getElementById('act-close') !== null").await;
    s.find("#act-close-result")
        .await
        .select_by_value("mediated")
        .await
        .unwrap();
    s.find("#act-close-amount")
        .await
        .send_keys("120.50")
        .await
        .unwrap();
    s.find("#act-close-note")
        .await
        .send_keys("调解成功，商家退款")
        .await
        .unwrap();
    s.click("#act-close").await;
    s.until("document.getElementById('case-status').textContent === '已结案'")
        .await;
    assert!(s.text("#timeline").await.contains("结案"));
    assert!(s.text("#no-actions").await.contains("没有"));
    s.shot("case-closed", &[]).await;
    let closed = app
        .get(&format!("/v1/queue/{}", month.queue_case), &w.dc_staff)
        .await
        .expect(200);
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["outcome"]["recovered_cents"], 12050);

    // March's follow-up: dissatisfied, with the warning, reopens the case.
    client
        .goto(&format!("{}/console/#/followups", app.base))
        .await
        .unwrap();
    let month_input = s.find("#followup-month").await;
    s.js("document.getElementById('followup-month').value = '2026-03'")
        .await;
    drop(month_input);
    s.click("#followup-apply").await;
    s.until("document.querySelectorAll('#followup-list .followup select').length === 1")
        .await;
    let select = s.find("#followup-list select").await;
    select.select_by_value("dissatisfied").await.unwrap();
    s.until("!document.querySelector('#followup-list .warning').hidden")
        .await;
    s.find("#followup-list input")
        .await
        .send_keys("退款未到账")
        .await
        .unwrap();
    s.shot("followup", &[]).await;
    s.click("#followup-list button").await;
    s.until("document.querySelectorAll('#followup-list .badge.met').length === 1")
        .await;
    let reopened = app
        .get(&format!("/v1/queue/{}", month.followup_case), &w.dc_staff)
        .await
        .expect(200);
    assert_eq!(reopened["status"], "reopened");
    assert_eq!(reopened["escalation_reason"], "consumer_dissatisfied");
    s.shot("followup-recorded", &[]).await;

    // Signed out, and in again as staff of the city centre above both stations.
    s.click("#sign-out").await;
    s.find("#login-username").await;
    s.until("document.getElementById('notice').textContent === '已退出。'")
        .await;
    assert_eq!(
        s.js("return sessionStorage.length").await,
        json!(0),
        "the token is gone"
    );
    let user = s.find("#login-username").await;
    user.clear().await.unwrap();
    user.send_keys("qj1").await.unwrap();
    s.find("#login-password")
        .await
        .send_keys("staff-password-1")
        .await
        .unwrap();
    s.click("#login-submit").await;
    s.until("!document.getElementById('page-queue').hidden && document.getElementById('who').textContent === '工作人员 · QJ'").await;

    // March's report of the whole tree: the station table, the rates, the chart.
    client
        .goto(&format!("{}/console/#/report", app.base))
        .await
        .unwrap();
    s.find("#report-month").await;
    s.js("document.getElementById('report-month').value = '2026-03'")
        .await;
    s.click("#report-apply").await;
    s.until("document.querySelectorAll('#report-chart rect.bar').length === 6")
        .await;
    // The page shows the API's numbers for the month, cell for cell.
    let report = app
        .get("/v1/reports/monthly?month=2026-03", &w.root_staff)
        .await
        .expect(200);
    assert_eq!(report["total"]["received"], 4);
    let rate = |v: &Value| v.as_f64().map(|r| format!("{r:.2}%")).unwrap_or("—".into());
    let cells_of = |name: &str, c: &Value| -> Vec<String> {
        let mut cells = vec![name.to_string()];
        for k in [
            "received",
            "accepted",
            "not_accepted",
            "initial_feedback",
            "closing_feedback",
            "completed",
        ] {
            cells.push(c[k].to_string());
        }
        cells.push(rate(&c["completion_rate"]));
        cells
    };
    let mut want: Vec<Vec<String>> = report["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| cells_of(st["name"].as_str().unwrap(), st))
        .collect();
    want.push(cells_of("合计", &report["total"]));
    let shown = s.js("return [...document.querySelectorAll('#report-table tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))").await;
    assert_eq!(shown, json!(want));
    let bars = s.js("return [...document.querySelectorAll('#report-chart rect.bar')].map(r => [r.dataset.station, Number(r.dataset.value), r.getBBox().height > 0])").await;
    let want_bars: Vec<Value> = report["stations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|st| ["received", "completed"].map(|k| json!([st["code"], st[k], st[k] != 0])))
        .collect();
    assert_eq!(bars, json!(want_bars));
    s.js("document.getElementById('report-title').scrollIntoView()")
        .await;
    s.shot("report", &[]).await;

    // The CSV download lands in the browser's download folder.
    s.click("#download-csv").await;
    let csv_path = downloads.join("12315-QJ-2026-03.csv");
    common::eventually(WAIT, || {
        let p = csv_path.clone();
        async move { p.exists().then_some(()) }
    })
    .await;
    let csv = std::fs::read(&csv_path).expect("the CSV");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"));
    let csv = String::from_utf8(csv).unwrap();
    for row in &want {
        let line = row.join(",").replace('—', "");
        assert!(csv.contains(&line), "{line} in {csv}");
    }
    s.shot("report-downloaded", &[]).await;

    // A narrow laptop window: nothing runs off the side of the page.
    client.set_window_size(760, 800).await.unwrap();
    client
        .goto(&format!("{}/console/#/queue", app.base))
        .await
        .unwrap();
    s.find("#queue-table tbody tr").await;
    assert_eq!(
        s.js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        json!(true)
    );
    s.shot("queue-narrow", &[]).await;

    // `ODR_SCREENSHOTS=docs/console` refreshes the README's pictures.
    if let Ok(target) = std::env::var("ODR_SCREENSHOTS") {
        for name in ["queue", "case", "report"] {
            let shot = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.to_string_lossy().ends_with(&format!("-{name}.png")))
                .expect("the step's screenshot");
            std::fs::copy(shot, Path::new(&target).join(format!("{name}.png")))
                .expect("copy screenshot");
        }
    }
    client.close().await.expect("close the browser");
}
