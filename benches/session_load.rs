//! The refresh load client of `benches/session_load.sh`: refresh rotations per second through the
//! `session` example's `POST /auth/refresh`, with `CLIENTS` concurrent clients (default 32).
//!
//! Each client logs in once (before the clock starts: argon2 is slow on purpose and login is
//! not what is measured), then chains its own session's refresh tokens for `DURATION` seconds:
//! every answer gives the next refresh token, which the next request presents. Every answer
//! must be 200; a refusal stops the run with an error, so that a figure never counts failures.
//!
//! This target is a load client, not a benchmark run: `cargo bench` builds it and, without
//! `BASE` (the example's base URL, for example `http://127.0.0.1:3002`), it only says so and
//! exits. `benches/session_load.sh` runs it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One POST with a JSON body; the status and the JSON answer.
async fn post(
    client: &HttpClient,
    url: &str,
    body: String,
) -> Result<(StatusCode, Value), BoxError> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = client.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&bytes)?))
}

/// The refresh token of a 200 answer.
fn refresh_token(status: StatusCode, body: &Value, what: &str) -> Result<String, BoxError> {
    if status != StatusCode::OK {
        return Err(format!("{what}: {status} {}", body["reason"]).into());
    }
    body["refresh_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what}: no refresh_token in the answer").into())
}

fn setting(name: &str, default: u64) -> Result<u64, BoxError> {
    match std::env::var(name) {
        Ok(value) => Ok(value.parse().map_err(|_| format!("{name}: not a number"))?),
        Err(_) => Ok(default),
    }
}

async fn run(base: String) -> Result<(), BoxError> {
    let clients = setting("CLIENTS", 32)?;
    let duration = Duration::from_secs(setting("DURATION", 10)?);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(usize::try_from(clients)?)
        .build_http();
    let login = format!("{base}/auth/login");
    let refresh = format!("{base}/auth/refresh");
    let credentials = json!({ "username": "demo", "password": "demo-password" }).to_string();

    // The sessions, opened before the clock starts.
    let mut tokens = Vec::new();
    for _ in 0..clients {
        let (status, body) = post(&client, &login, credentials.clone()).await?;
        tokens.push(refresh_token(status, &body, "login")?);
    }

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for mut token in tokens {
        let client = client.clone();
        let refresh = refresh.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let body = json!({ "refresh_token": token }).to_string();
                let (status, answer) = post(&client, &refresh, body).await?;
                token = refresh_token(status, &answer, "refresh")?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), BoxError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let count = done.load(Ordering::Relaxed);
    println!(
        "refreshes: {count} in {elapsed:.2} s = {:.0}/s ({clients} clients, each chaining its own session)",
        count as f64 / elapsed
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let Ok(base) = std::env::var("BASE") else {
        eprintln!("session_load: a load client; set BASE to the session example's URL (see benches/session_load.sh)");
        return Ok(());
    };
    let threads = usize::try_from(setting("CLIENT_THREADS", 1)?)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(base))
}
