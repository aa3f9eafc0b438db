//! A real HTTP receiver for webhooks: records what arrives and answers as told
//! (200, an error status, 429 with Retry-After, 410, a redirect, or a hang).

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
    Redirect(String),
    /// Never answers (the gateway's timeout must end the attempt).
    Hang,
    /// 200 with a body that never ends.
    Endless,
}

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
    /// The status this receiver answered (0 when it hung).
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    /// Percent of requests answered 500 at random, when set.
    failure_percent: Mutex<Option<(u32, u64)>>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let random = shared
        .failure_percent
        .lock()
        .unwrap()
        .as_mut()
        .map(|(percent, seed)| {
            // xorshift: reproducible from the seed, no shared RNG needed.
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            if (*seed % 100) < u64::from(*percent) {
                Reply::Status(500)
            } else {
                Reply::Status(200)
            }
        });
    let reply = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or(random)
        .or_else(|| shared.default.lock().unwrap().clone())
        .unwrap_or(Reply::Status(200));
    let status = match &reply {
        Reply::Status(code) | Reply::RetryAfter(code, _) => *code,
        Reply::Endless => 200,
        Reply::Redirect(_) => 307,
        Reply::Hang => 0,
    };
    shared.received.lock().unwrap().push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        status,
    });
    shared.arrived.notify_waiters();
    match reply {
        Reply::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).body("ok")
        }
        Reply::RetryAfter(code, secs) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .insert_header(("Retry-After", secs.to_string()))
                .finish()
        }
        Reply::Redirect(to) => HttpResponse::TemporaryRedirect()
            .insert_header(("Location", to))
            .finish(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
        Reply::Endless => HttpResponse::Ok().streaming(futures_util::stream::repeat_with(|| {
            Ok::<_, actix_web::Error>(web::Bytes::from_static(&[b'x'; 1024]))
        })),
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Receiver { url, shared }
    }

    /// Answers the next requests with `replies`, in order, then with the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// Fails `percent` of requests with 500, pseudo-randomly from `seed`.
    pub fn fail_randomly(&self, percent: u32, seed: u64) {
        *self.shared.failure_percent.lock().unwrap() = Some((percent, seed.max(1)));
    }

    pub fn answer_always(&self, reply: Reply) {
        *self.shared.default.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The complaints whose events this receiver has answered 200 to.
    pub fn complaints_answered_ok(&self) -> std::collections::BTreeSet<String> {
        self.shared
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| {
                r.json()["data"]["complaint"]["id"]
                    .as_str()
                    .expect("an event names its complaint")
                    .to_string()
            })
            .collect()
    }

    /// Waits until at least `n` requests have arrived; fails after `limit`.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            // Only the count is read while waiting: copying every request
            // at each arrival would cost the machine as much as the gateway.
            let count = self.shared.received.lock().unwrap().len();
            if count >= n {
                return self.received();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "only {count} of {n} webhooks arrived");
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

/// Standard Webhooks verification written out from the specification, apart
/// from the gateway's own signer: HMAC-SHA256 over "id.timestamp.body" with the
/// base64-decoded part of the whsec_ secret, compared with each `v1,` entry.
pub fn verifies(secret: &str, received: &Received) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let id = &received.headers["webhook-id"];
    let ts = &received.headers["webhook-timestamp"];
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{}", received.body).as_bytes());
    let expected = engine.encode(mac.finalize().into_bytes());
    received.headers["webhook-signature"]
        .split(' ')
        .any(|sig| sig.strip_prefix("v1,") == Some(expected.as_str()))
}

/// An endpoint that takes each connection, reads the request and closes the
/// connection without answering.
pub struct Closer {
    pub url: String,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Closer {
    pub fn start() -> Closer {
        use std::sync::atomic::Ordering;
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind closer");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
            }
        });
        Closer { url, accepted }
    }

    /// Connections taken so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}
