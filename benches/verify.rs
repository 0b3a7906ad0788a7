//! The cost of verification, as a ratio against bare `jsonwebtoken::decode` of the same token,
//! measured in the same run.
//!
//! The machines this runs on switch between fast and slow phases, so a case is never timed on its
//! own: each round runs a short batch of every case in a shuffled order, the ratio of each case to
//! the baseline is taken per round, and the medians are reported.
//!
//! Run with `cargo bench --bench verify`; `ROUNDS` and `BATCH` override the defaults.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Request, Response};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tower::Service;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: String,
    scope: String,
}

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

struct Fixture {
    name: &'static str,
    token: String,
    key: DecodingKey,
    validation: Validation,
    layer: JwtAuthLayer<Claims>,
}

fn claims() -> Claims {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    Claims {
        sub: "user-1234".into(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: "4f1c2a9e-7d1b-4c55-9a57-0f3f2b8c1d11".into(),
        scope: "read write".into(),
    }
}

fn fixture(
    name: &'static str,
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    key: Key,
) -> Fixture {
    let mut header = Header::new(algorithm);
    header.kid = Some("k1".into());
    header.typ = Some("at+jwt".into());
    let token = jsonwebtoken::encode(&header, &claims(), &encoding).expect("token");
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.validate_nbf = true;
    let layer = JwtAuthLayer::<Claims>::builder()
        .key(key.with_kid("k1"))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("layer");
    Fixture {
        name,
        token,
        key: decoding,
        validation,
        layer,
    }
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{path}", env!("CARGO_MANIFEST_DIR"))).expect("test key")
}

/// A tiny deterministic shuffle, so the order of cases changes from round to round.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        items.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the no-op service completes at once"),
    }
}

fn main() {
    tower_jwt_auth::crypto::ensure_default_provider();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(31);
    let batch_time = Duration::from_millis(
        std::env::var("BATCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );

    let secret = b"benchmark secret of at least 32 bytes";
    let fixtures = [
        fixture(
            "HS256",
            Algorithm::HS256,
            EncodingKey::from_secret(secret).expect("secret"),
            DecodingKey::from_secret(secret).expect("secret"),
            Key::hmac(Algorithm::HS256, secret).expect("key"),
        ),
        fixture(
            "RS256",
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&read("rsa_private.pem")).expect("rsa"),
            DecodingKey::from_rsa_pem(&read("rsa_public.pem")).expect("rsa"),
            Key::rsa_pem(Algorithm::RS256, read("rsa_public.pem")).expect("key"),
        ),
        fixture(
            "ES256",
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&read("ec256_private.pem")).expect("ec"),
            DecodingKey::from_ec_pem(&read("ec256_public.pem")).expect("ec"),
            Key::ec_pem(Algorithm::ES256, read("ec256_public.pem")).expect("key"),
        ),
        fixture(
            "EdDSA",
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&read("ed25519_private.pem")).expect("ed"),
            DecodingKey::from_ed_pem(&read("ed25519_public.pem")).expect("ed"),
            Key::ed_pem(read("ed25519_public.pem")).expect("key"),
        ),
    ];

    println!("{rounds} rounds, batches of ~{batch_time:?} per case, cases shuffled per round");
    println!(
        "{:<6} {:>14} {:>14} {:>14} {:>12} {:>12}",
        "alg", "decode ns", "verifier ns", "layer ns", "verifier/x", "layer/x"
    );
    for fx in &fixtures {
        let verifier = fx.layer.verifier();
        let auth_value = format!("Bearer {}", fx.token);
        let mut service = tower::Layer::layer(
            &fx.layer,
            tower::service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }),
        );
        // Sanity: every case accepts the token.
        jsonwebtoken::decode::<Claims>(&fx.token, &fx.key, &fx.validation).expect("decode");
        verifier.verify(&fx.token).expect("verifier");

        let mut cases: Vec<(usize, Box<dyn FnMut()>)> = vec![
            (
                0,
                Box::new(|| {
                    black_box(
                        jsonwebtoken::decode::<Claims>(
                            black_box(&fx.token),
                            &fx.key,
                            &fx.validation,
                        )
                        .is_ok(),
                    );
                }),
            ),
            (
                1,
                Box::new(|| {
                    black_box(verifier.verify(black_box(&fx.token)).is_ok());
                }),
            ),
            (
                2,
                Box::new(|| {
                    let req = Request::builder()
                        .header(http::header::AUTHORIZATION, auth_value.as_str())
                        .body(())
                        .expect("request");
                    let response = poll_ready(service.call(req)).expect("infallible");
                    assert_eq!(response.status(), 200);
                }),
            ),
        ];

        // Size the batches so each lasts about `batch_time`.
        let mut per_batch = [0u64; 3];
        for (index, case) in cases.iter_mut() {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < batch_time {
                case();
                n += 1;
            }
            per_batch[*index] = n.max(1);
        }

        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut times: [Vec<f64>; 3] = Default::default();
        let mut ratios: [Vec<f64>; 2] = Default::default();
        for _ in 0..rounds {
            shuffle(&mut cases, &mut seed);
            let mut round = [0f64; 3];
            for (index, case) in cases.iter_mut() {
                let n = per_batch[*index];
                let start = Instant::now();
                for _ in 0..n {
                    case();
                }
                round[*index] = start.elapsed().as_nanos() as f64 / n as f64;
            }
            for (i, t) in round.iter().enumerate() {
                times[i].push(*t);
            }
            ratios[0].push(round[1] / round[0]);
            ratios[1].push(round[2] / round[0]);
        }
        println!(
            "{:<6} {:>14.0} {:>14.0} {:>14.0} {:>12.3} {:>12.3}",
            fx.name,
            median(&mut times[0]),
            median(&mut times[1]),
            median(&mut times[2]),
            median(&mut ratios[0]),
            median(&mut ratios[1]),
        );
    }
    println!(
        "x = bare jsonwebtoken::decode of the same token; ratios are medians of per-round ratios"
    );
}
