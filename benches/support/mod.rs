//! What the two benches share: the counting allocator, the typical token, the cryptographic
//! floor, and the interleaving helpers. Included with `#[path]` by `benches/verify.rs` and by
//! `benches/peers/src/main.rs`.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use ring::signature as ring_sig;
use serde::{Deserialize, Serialize};
use tower_jwt_auth::{Algorithm, Key};

// ---------------------------------------------------------------------------------------------
// Counting allocator

pub struct Counting;

pub static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Counting is on only while [`allocations_of`] runs its call, so that the timed batches pay no
/// atomic increment per allocation (which would weigh on the cases that allocate more).
pub static COUNTING: AtomicBool = AtomicBool::new(false);

fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Heap allocations (and reallocations) of one call of `f`, after one warm-up call so that
/// lazily initialised state does not count.
pub fn allocations_of(mut f: impl FnMut()) -> usize {
    f();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    f();
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
pub static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// The token

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    pub scope: String,
}

pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api";

pub fn claims() -> Claims {
    let now = now();
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

// ---------------------------------------------------------------------------------------------
// The floor

mod floor;
pub use floor::{now, FloorKey};

/// The floor for the typical token.
pub fn floor_verify(token: &str, key: &FloorKey, alg: &str) -> Option<Claims> {
    floor::floor_verify_with(token, key, alg, |claims: &Claims, now| {
        claims.exp > now && claims.nbf <= now && claims.iss == ISSUER && claims.aud == AUDIENCE
    })
}

/// The DER content of the one PEM block in `pem`.
pub fn pem_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).expect("pem");
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("pem base64")
}

// ---------------------------------------------------------------------------------------------
// Measurement

/// A tiny deterministic shuffle, so the order of cases changes from round to round.
pub fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        items.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

pub fn poll_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the no-op service completes at once"),
    }
}

/// The keys, the token and jsonwebtoken's validation of one algorithm, from the test keys in
/// `keys_dir`.
pub struct Material {
    pub token: String,
    pub floor: FloorKey,
    pub jwt_key: DecodingKey,
    pub validation: Validation,
    pub key: Key,
}

/// The secret of the HS256 cases.
pub const SECRET: &str = "benchmark secret of at least 32 bytes";

pub fn material(algorithm: Algorithm, keys_dir: &str) -> Material {
    let secret = SECRET.as_bytes();
    let read = |name: &str| std::fs::read(format!("{keys_dir}/{name}")).expect("test key");
    let (encoding, jwt_key, key, floor) = match algorithm {
        Algorithm::HS256 => (
            EncodingKey::from_secret(secret).expect("secret"),
            DecodingKey::from_secret(secret).expect("secret"),
            Key::hmac(algorithm, secret).expect("key"),
            FloorKey::Hmac(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)),
        ),
        Algorithm::RS256 => {
            let public = read("rsa_public.pem");
            let decoding = DecodingKey::from_rsa_pem(&public).expect("rsa");
            let pkcs1 = decoding.try_get_as_bytes().expect("der").to_vec();
            (
                EncodingKey::from_rsa_pem(&read("rsa_private.pem")).expect("rsa"),
                decoding,
                Key::rsa_pem(algorithm, &public).expect("key"),
                FloorKey::Public(ring_sig::UnparsedPublicKey::new(
                    &ring_sig::RSA_PKCS1_2048_8192_SHA256,
                    pkcs1,
                )),
            )
        }
        Algorithm::ES256 => {
            let public = read("ec256_public.pem");
            let decoding = DecodingKey::from_ec_pem(&public).expect("ec");
            let point = decoding.try_get_as_bytes().expect("point").to_vec();
            (
                EncodingKey::from_ec_pem(&read("ec256_private.pem")).expect("ec"),
                decoding,
                Key::ec_pem(algorithm, &public).expect("key"),
                FloorKey::Public(ring_sig::UnparsedPublicKey::new(
                    &ring_sig::ECDSA_P256_SHA256_FIXED,
                    point,
                )),
            )
        }
        Algorithm::EdDSA => {
            let public = read("ed25519_public.pem");
            let decoding = DecodingKey::from_ed_pem(&public).expect("ed");
            // The SPKI of an Ed25519 key ends with the 32 raw key bytes.
            let der = pem_der(&public);
            let raw = der[der.len() - 32..].to_vec();
            (
                EncodingKey::from_ed_pem(&read("ed25519_private.pem")).expect("ed"),
                decoding,
                Key::ed_pem(&public).expect("key"),
                FloorKey::Public(ring_sig::UnparsedPublicKey::new(&ring_sig::ED25519, raw)),
            )
        }
        other => panic!("no fixture for {other:?}"),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some("k1".into());
    header.typ = Some("at+jwt".into());
    let token = jsonwebtoken::encode(&header, &claims(), &encoding).expect("token");
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.validate_nbf = true;
    Material {
        token,
        floor,
        jwt_key,
        validation,
        key,
    }
}

/// A case: `prepare(n)` builds what `n` calls of `run` consume, outside the timing; `run` does
/// one call.
pub trait Case {
    fn prepare(&mut self, _n: usize) {}
    fn run(&mut self);
}

/// A case that is just a closure.
pub struct Simple<F: FnMut()>(pub F);

impl<F: FnMut()> Case for Simple<F> {
    fn run(&mut self) {
        (self.0)()
    }
}

/// A run's settings, from the environment: `ROUNDS` and `BATCH_MS` (each bench has its own
/// defaults) and `ALGS`, the algorithms to run (all four by default).
pub struct Settings {
    pub rounds: usize,
    pub batch_time: Duration,
    pub algorithms: Vec<(&'static str, Algorithm)>,
}

pub fn settings(default_rounds: usize, default_batch_ms: u64) -> Settings {
    let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let wanted = std::env::var("ALGS").unwrap_or_else(|_| "HS256,RS256,ES256,EdDSA".into());
    Settings {
        rounds: number("ROUNDS").map_or(default_rounds, |n| n as usize),
        batch_time: Duration::from_millis(number("BATCH_MS").unwrap_or(default_batch_ms)),
        algorithms: [
            ("HS256", Algorithm::HS256),
            ("RS256", Algorithm::RS256),
            ("ES256", Algorithm::ES256),
            ("EdDSA", Algorithm::EdDSA),
        ]
        .into_iter()
        .filter(|(name, _)| wanted.split(',').any(|w| w == *name))
        .collect(),
    }
}

/// Times `cases` (each tagged with its index; index 0 is the baseline) interleaved: batches
/// sized to last about `batch_time`, `rounds` rounds in a shuffled order. Returns, per index, the
/// nanoseconds per call of each round, and each round's ratio to the baseline.
pub fn measure(
    cases: &mut [(usize, Box<dyn Case + '_>)],
    rounds: usize,
    batch_time: Duration,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let count = cases.len();
    let mut per_batch = vec![0usize; count];
    for (index, case) in cases.iter_mut() {
        let mut n = 16;
        loop {
            case.prepare(n);
            let start = Instant::now();
            for _ in 0..n {
                case.run();
            }
            if start.elapsed() >= batch_time / 4 || n > 1 << 22 {
                let per_call = start.elapsed().as_secs_f64() / n as f64;
                per_batch[*index] = ((batch_time.as_secs_f64() / per_call) as usize).max(1);
                break;
            }
            n *= 2;
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = vec![Vec::with_capacity(rounds); count];
    let mut ratios = vec![Vec::with_capacity(rounds); count];
    for _ in 0..rounds {
        shuffle(cases, &mut seed);
        let mut round = vec![0f64; count];
        for (index, case) in cases.iter_mut() {
            let n = per_batch[*index];
            case.prepare(n);
            let start = Instant::now();
            for _ in 0..n {
                case.run();
            }
            round[*index] = start.elapsed().as_nanos() as f64 / n as f64;
        }
        for (i, t) in round.iter().enumerate() {
            times[i].push(*t);
            ratios[i].push(t / round[0]);
        }
    }
    (times, ratios)
}
