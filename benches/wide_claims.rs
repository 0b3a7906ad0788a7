//! Wide claims sets cost time linear in their size: tokens of 16, 32 and 64 KiB (the layer's
//! largest, with `max_token_len(65536)`) made of thousands of short claim names, verified by
//! [`TokenVerifier::verify`](tower_jwt_auth::TokenVerifier::verify) with HS256. Two shapes:
//!
//! - `flat`: every name at the top level (`"a0b":0,`), the names the parse records to refuse
//!   duplicates;
//! - `nested`: objects of 62 one-character names each (`"o12":{"A":0,…}`), the names the walk of
//!   nested objects records.
//!
//! Each is read as `serde_json::Value` (every name kept) and as a struct of one field (every
//! other name skipped). For each case it prints the median time per call over rounds of short
//! batches, the number of names, and the time per KiB: linear cost shows as a flat time per KiB
//! from 16 to 64 KiB.
//!
//! Run with `cargo bench --bench wide_claims`; `ROUNDS` (default 31) and `BATCH_MS` (default
//! 20) override the defaults.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};

const SECRET: &[u8] = b"wide-claims bench secret, 32 bytes or more";
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Deserialize)]
struct OneField {
    #[allow(dead_code)]
    sub: String,
}

fn name(mut i: usize, len: usize) -> String {
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(ALPHABET[i % ALPHABET.len()]));
        i /= ALPHABET.len();
    }
    out
}

/// A signed HS256 token of at most `size` bytes, of `shape`; with the count of names.
fn token(shape: &str, size: usize) -> (String, usize) {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    // base64url: 4 characters per 3 bytes; room for the header and the signature.
    let budget = (size - header.len() - 2 - 43) / 4 * 3 - 64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Valid for an hour: the layer caps the lifetime.
    let mut json = format!(r#"{{"sub":"user-1","exp":{}"#, now + 3600);
    let mut names = 2;
    match shape {
        "flat" => {
            for i in 0.. {
                let member = format!(r#","a{}":0"#, name(i, 3));
                if json.len() + member.len() + 1 > budget {
                    break;
                }
                json.push_str(&member);
                names += 1;
            }
        }
        _ => {
            'objects: for o in 0.. {
                let mut object = format!(r#","o{}":{{"#, name(o, 2));
                for (k, c) in ALPHABET.iter().enumerate() {
                    if k > 0 {
                        object.push(',');
                    }
                    object.push_str(&format!(r#""{}":0"#, char::from(*c)));
                }
                object.push('}');
                if json.len() + object.len() + 1 > budget {
                    break 'objects;
                }
                json.push_str(&object);
                names += 1 + ALPHABET.len();
            }
        }
    }
    json.push('}');
    let payload = URL_SAFE_NO_PAD.encode(json.as_bytes());
    let message = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let tag = ring::hmac::sign(&key, message.as_bytes());
    let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert!(token.len() <= size, "{} > {size}", token.len());
    (token, names)
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median time of one call of `f`, over `rounds` batches of about `batch` each.
fn median(rounds: u64, batch: Duration, mut f: impl FnMut()) -> Duration {
    // Calibrate the batch size once.
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < batch {
        f();
        calls += 1;
    }
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed() / calls
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let rounds = env("ROUNDS", 31);
    let batch = Duration::from_millis(env("BATCH_MS", 20));
    let value = JwtAuthLayer::<serde_json::Value>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .max_token_len(65536)
        .unwrap()
        .build()
        .unwrap()
        .verifier();
    let typed = JwtAuthLayer::<OneField>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .max_token_len(65536)
        .unwrap()
        .build()
        .unwrap()
        .verifier();
    println!("shape   claims type  size      names   time/call   time/KiB");
    for shape in ["flat", "nested"] {
        for kib in [16, 32, 64] {
            let (token, names) = token(shape, kib * 1024);
            if let Err(error) = value.verify(&token) {
                panic!("{shape} {kib} KiB: {error}");
            }
            assert!(typed.verify(&token).is_ok(), "{shape} {kib} KiB");
            let v = median(rounds, batch, || {
                black_box(value.verify(black_box(&token)).ok());
            });
            let t = median(rounds, batch, || {
                black_box(typed.verify(black_box(&token)).ok());
            });
            for (kind, time) in [("Value", v), ("one field", t)] {
                println!(
                    "{shape:<7} {kind:<12} {:>2} KiB  {names:>6}  {:>8.1} µs  {:>6.2} µs",
                    kib,
                    time.as_secs_f64() * 1e6,
                    time.as_secs_f64() * 1e6 / token.len() as f64 * 1024.0,
                );
            }
        }
    }
}
