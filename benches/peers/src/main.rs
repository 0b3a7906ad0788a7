//! The layer against the other Rust JWT crates, against the cryptographic floor, in the same run,
//! on every crypto backend side by side.
//!
//! For HS256, RS256 (2048), ES256 and EdDSA, with the typical access token of `benches/verify.rs`
//! (header `alg`, `typ`, `kid`; claims `sub`, `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`, `scope`)
//! and the same checks everywhere (signature, `exp`, `nbf`, `iss`, `aud`; typed claims), it
//! times, interleaved in one process:
//!
//! - `floor`: the least a correct verifier does, as in `benches/verify.rs`: base64url-decode the
//!   three segments, parse the header into a borrowed struct, check the signature with ring (a
//!   key parsed once), parse the claims once into a typed struct, check the four claims;
//! - `layer` on each of the crate's providers (`RING_PROVIDER`, `AWS_LC_PROVIDER`,
//!   `DALEK_PROVIDER`): a request with the token in `Authorization: Bearer` through
//!   [`tower_jwt_auth::JwtAuth`] into a no-op service, claims inserted, on a prepared service
//!   (requests built outside the timing), verifiers prepared once per key;
//! - `jsonwebtoken` (version 12) `decode` on each of three providers: its own `aws_lc` and
//!   `rust_crypto` providers, and the crate's `RING_PROVIDER`;
//! - `jwt-simple`: `verify_token` of jwt-simple 0.15 with its `pure-rust` backend;
//! - `jwt-authorizer`: a request through jwt-authorizer 0.15's layer into a no-op service, as for
//!   `layer` (it verifies with jsonwebtoken 9, which uses ring).
//!
//! jsonwebtoken 12's `CryptoProvider` is process-global and installed once, so the process
//! installs a dispatching provider whose factories call those of the provider selected for the
//! case about to run (one relaxed atomic load and one indirect call more per `decode`, a few
//! nanoseconds); each jsonwebtoken case selects its provider before its batch, outside the
//! timing.
//!
//! The machines this runs on switch between fast and slow phases, so no case is timed on its
//! own: each round runs a short batch of every case in a shuffled order, the ratio of each case
//! to the floor is taken per round, and the medians are reported. The summary compares, per
//! backend, the layer on that backend with the fastest peer on the same backend, as the median
//! of the per-round ratios of their times. Allocations of one call of each case are counted with
//! a counting global allocator.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml
//! ```
//!
//! `ROUNDS` (default 41), `BATCH_MS` (default 20) and `ALGS` (default `HS256,RS256,ES256,EdDSA`)
//! as in `benches/verify.rs`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Response};
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{DecodingKey, Validation};
use jwt_authorizer::IntoLayer;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service};
use tower_jwt_auth::{Algorithm, JwtAuthLayer};

#[path = "../../support/mod.rs"]
mod support;
use support::*;

// ---------------------------------------------------------------------------------------------
// Counting allocator

// ---------------------------------------------------------------------------------------------
// The token (as in benches/verify.rs)

/// What jwt-simple leaves to the application: its `JWTClaims` holds the registered claims.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct SimpleExtra {
    scope: String,
}

// ---------------------------------------------------------------------------------------------
// The floor (as in benches/verify.rs)

// ---------------------------------------------------------------------------------------------
// The backend of this run

/// The providers jsonwebtoken 12's `decode` runs on, by index: the crate's ring provider,
/// jsonwebtoken's aws-lc-rs provider and jsonwebtoken's RustCrypto provider (ed25519-dalek for
/// `EdDSA`).
const JWT_PROVIDERS: [(&str, &CryptoProvider); 3] = [
    ("ring", &tower_jwt_auth::crypto::RING_PROVIDER),
    ("aws_lc", &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER),
    (
        "rust_crypto",
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    ),
];

/// The index in [`JWT_PROVIDERS`] that the dispatching provider hands over to.
static SELECTED: AtomicUsize = AtomicUsize::new(0);

fn select(provider: usize) {
    SELECTED.store(provider, Ordering::Relaxed);
}

fn selected() -> &'static CryptoProvider {
    JWT_PROVIDERS[SELECTED.load(Ordering::Relaxed) % JWT_PROVIDERS.len()].1
}

fn dispatch_signer(
    algorithm: &Algorithm,
    key: &jsonwebtoken::EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn jsonwebtoken::crypto::JwtSigner>> {
    (selected().signer_factory)(algorithm, key)
}

fn dispatch_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn jsonwebtoken::crypto::JwtVerifier>> {
    (selected().verifier_factory)(algorithm, key)
}

/// The process-wide jsonwebtoken provider of this bench: it calls the factories of the provider
/// selected with [`select`]. Key utilities (JWK helpers) are not used here.
static DISPATCH: CryptoProvider = CryptoProvider {
    signer_factory: dispatch_signer,
    verifier_factory: dispatch_verifier,
    key_utils: jsonwebtoken::crypto::KeyUtils::new_unimplemented(),
};

/// The crate's providers the layer is built on, one layer each.
const LAYER_PROVIDERS: [(&str, &CryptoProvider); 3] = [
    ("ring", &tower_jwt_auth::crypto::RING_PROVIDER),
    ("aws-lc", &tower_jwt_auth::crypto::AWS_LC_PROVIDER),
    ("dalek", &tower_jwt_auth::crypto::DALEK_PROVIDER),
];

// ---------------------------------------------------------------------------------------------
// Fixtures

type SimpleVerify = Box<dyn Fn(&str) -> bool>;

struct Fixture {
    name: &'static str,
    token: String,
    floor: FloorKey,
    jwt_key: DecodingKey,
    validation: Validation,
    /// One layer per entry of [`LAYER_PROVIDERS`].
    layers: Vec<JwtAuthLayer<Claims>>,
    simple: SimpleVerify,
    authorizer: jwt_authorizer::layer::AuthorizationLayer<Claims>,
}

fn keys_dir() -> String {
    format!("{}/../../tests/keys", env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{path}", keys_dir())).expect("test key")
}

fn read_text(path: &str) -> String {
    String::from_utf8(read(path)).expect("pem")
}

/// jwt-simple's options for the same checks: `iss`, `aud`, `exp` and `nbf`, with the same 60 s
/// of leeway as the others (its default is 15 minutes).
fn simple_options() -> jwt_simple::prelude::VerificationOptions {
    jwt_simple::prelude::VerificationOptions {
        allowed_issuers: Some(HashSet::from([ISSUER.to_owned()])),
        allowed_audiences: Some(HashSet::from([AUDIENCE.to_owned()])),
        time_tolerance: Some(jwt_simple::prelude::Duration::from_secs(60)),
        ..Default::default()
    }
}

/// jwt-simple's `verify_token` for a key of type `K`.
type SimpleVerifyToken<K> =
    fn(
        &K,
        &str,
        Option<jwt_simple::prelude::VerificationOptions>,
    ) -> Result<jwt_simple::prelude::JWTClaims<SimpleExtra>, jwt_simple::Error>;

/// A jwt-simple verifier: its API takes the options by value, so each call gets a clone.
fn simple_verifier<K: 'static>(key: K, verify: SimpleVerifyToken<K>) -> SimpleVerify {
    let options = simple_options();
    Box::new(move |token| verify(&key, token, Some(options.clone())).is_ok())
}

fn simple_fixture(algorithm: Algorithm) -> SimpleVerify {
    use jwt_simple::prelude::*;
    match algorithm {
        Algorithm::HS256 => simple_verifier(HS256Key::from_bytes(SECRET.as_bytes()), |k, t, o| {
            k.verify_token::<SimpleExtra>(t, o)
        }),
        Algorithm::RS256 => simple_verifier(
            RS256PublicKey::from_pem(&read_text("rsa_public.pem")).expect("rsa"),
            |k, t, o| k.verify_token::<SimpleExtra>(t, o),
        ),
        Algorithm::ES256 => simple_verifier(
            ES256PublicKey::from_pem(&read_text("ec256_public.pem")).expect("ec"),
            |k, t, o| k.verify_token::<SimpleExtra>(t, o),
        ),
        Algorithm::EdDSA => simple_verifier(
            Ed25519PublicKey::from_pem(&read_text("ed25519_public.pem")).expect("ed"),
            |k, t, o| k.verify_token::<SimpleExtra>(t, o),
        ),
        other => panic!("no jwt-simple fixture for {other:?}"),
    }
}

/// jwt-authorizer's layer for the key of `algorithm`, with the same checks. Its builder is
/// async (it can fetch key sets); with a key given in PEM it does no I/O beyond that.
fn authorizer_fixture(
    runtime: &tokio::runtime::Runtime,
    algorithm: Algorithm,
) -> jwt_authorizer::layer::AuthorizationLayer<Claims> {
    use jwt_authorizer::JwtAuthorizer;
    let builder = match algorithm {
        Algorithm::HS256 => JwtAuthorizer::<Claims>::from_secret(SECRET),
        Algorithm::RS256 => JwtAuthorizer::from_rsa_pem_text(&read_text("rsa_public.pem")),
        Algorithm::ES256 => JwtAuthorizer::from_ec_pem_text(&read_text("ec256_public.pem")),
        Algorithm::EdDSA => JwtAuthorizer::from_ed_pem_text(&read_text("ed25519_public.pem")),
        other => panic!("no jwt-authorizer fixture for {other:?}"),
    };
    let validation = jwt_authorizer::Validation::new()
        .iss(&[ISSUER])
        .aud(&[AUDIENCE])
        .exp(true)
        .nbf(true)
        .leeway(60);
    let authorizer = runtime
        .block_on(builder.validation(validation).build())
        .expect("jwt-authorizer");
    authorizer.into_layer()
}

fn fixture(runtime: &tokio::runtime::Runtime, name: &'static str, algorithm: Algorithm) -> Fixture {
    let Material {
        token,
        floor,
        jwt_key,
        validation,
        key,
    } = material(algorithm, &keys_dir());
    let layers = LAYER_PROVIDERS
        .iter()
        .map(|(_, provider)| {
            JwtAuthLayer::<Claims>::builder()
                .key(key.clone().with_kid("k1"))
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .crypto_provider(provider)
                .build()
                .expect("layer")
        })
        .collect();
    Fixture {
        name,
        token,
        floor,
        jwt_key,
        validation,
        layers,
        simple: simple_fixture(algorithm),
        authorizer: authorizer_fixture(runtime, algorithm),
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement (as in benches/verify.rs)

/// The request body of the cases: none. The layer needs a body type (`http_body::Body`); an
/// empty `String` is one, without allocation.
type NoBody = String;

/// A prepared tower service and the requests it will be given.
struct ServiceCase<S> {
    service: S,
    header: http::HeaderValue,
    requests: Vec<Request<NoBody>>,
}

impl<S> ServiceCase<S> {
    fn new(service: S, token: &str) -> Self {
        Self {
            service,
            header: format!("Bearer {token}").parse().expect("header"),
            requests: Vec::new(),
        }
    }

    fn request(&self) -> Request<NoBody> {
        let mut request = Request::new(NoBody::new());
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, self.header.clone());
        request
    }
}

impl<S, B> ServiceCase<S>
where
    S: Service<Request<NoBody>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    fn call(&mut self, request: Request<NoBody>) {
        let response = poll_now(self.service.call(request)).expect("no error");
        assert_eq!(response.status(), 200);
        black_box(response);
    }
}

impl<S, B> Case for ServiceCase<S>
where
    S: Service<Request<NoBody>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    fn prepare(&mut self, n: usize) {
        self.requests.clear();
        for _ in 0..n {
            let request = self.request();
            self.requests.push(request);
        }
    }
    fn run(&mut self) {
        let request = self.requests.pop().expect("prepared");
        self.call(request);
    }
}

type NoOp =
    tower::util::ServiceFn<fn(Request<NoBody>) -> std::future::Ready<Result<Response<()>, Infallible>>>;

fn no_op(_req: Request<NoBody>) -> std::future::Ready<Result<Response<()>, Infallible>> {
    std::future::ready(Ok(Response::new(())))
}

fn no_op_service() -> NoOp {
    tower::service_fn(no_op as fn(Request<NoBody>) -> _)
}

/// jwt-authorizer's layer needs an inner service answering with axum 0.7's `Response`.
type NoOpAxum07 = tower::util::ServiceFn<
    fn(Request<NoBody>) -> std::future::Ready<Result<axum07::response::Response, Infallible>>,
>;

fn no_op_axum07(
    _req: Request<NoBody>,
) -> std::future::Ready<Result<axum07::response::Response, Infallible>> {
    std::future::ready(Ok(axum07::response::Response::new(
        axum07::body::Body::empty(),
    )))
}

fn no_op_axum07_service() -> NoOpAxum07 {
    tower::service_fn(no_op_axum07 as fn(Request<NoBody>) -> _)
}

/// Heap allocations of one call of `case` (after one warm-up call).
fn allocations_of_case(case: &mut dyn Case) -> usize {
    case.prepare(2);
    allocations_of(|| case.run())
}

/// jsonwebtoken 12's `decode` on the provider of index `provider` in [`JWT_PROVIDERS`], selected
/// before each batch.
struct JwtCase<'a> {
    fx: &'a Fixture,
    provider: usize,
}

impl JwtCase<'_> {
    fn decode(&self, token: &str) -> bool {
        select(self.provider);
        jsonwebtoken::decode::<Claims>(token, &self.fx.jwt_key, &self.fx.validation).is_ok()
    }
}

impl Case for JwtCase<'_> {
    fn prepare(&mut self, _n: usize) {
        select(self.provider);
    }
    fn run(&mut self) {
        black_box(
            jsonwebtoken::decode::<Claims>(
                black_box(&self.fx.token),
                &self.fx.jwt_key,
                &self.fx.validation,
            )
            .is_ok(),
        );
    }
}

/// The cases of one algorithm, by index: what each is called and which backend it runs on.
const CASES: [(&str, &str); 9] = [
    ("floor", "ring"),
    ("layer", "ring"),
    ("layer", "aws-lc"),
    ("layer", "dalek"),
    ("jsonwebtoken", "ring"),
    ("jsonwebtoken", "aws-lc"),
    ("jsonwebtoken", "rust_crypto"),
    ("jwt-simple", "pure-rust"),
    ("jwt-authorizer", "ring"),
];

/// Per backend: its name, the index of the layer on it, and the indices of the peers on it.
/// jsonwebtoken's `rust_crypto` provider verifies `EdDSA` with ed25519-dalek; jwt-simple's
/// `pure-rust` backend is pure Rust too (ed25519-compact, p256, hmac-sha256), so both stand
/// beside the layer on `DALEK_PROVIDER`.
const BACKENDS: [(&str, usize, &[usize]); 3] = [
    ("ring", 1, &[4, 8]),
    ("aws-lc", 2, &[5]),
    ("dalek", 3, &[6, 7]),
];

/// One line of the summary: the layer on one backend against the fastest peer on it.
struct Summary {
    alg: &'static str,
    backend: &'static str,
    layer_over_floor: f64,
    peer: usize,
    peer_over_floor: f64,
    layer_over_peer: f64,
}

fn main() {
    if let Some(arg) = std::env::args().nth(1) {
        eprintln!(
            "unexpected argument {arg:?}: one run measures every backend; usage: cargo run \
             --release --manifest-path benches/peers/Cargo.toml (ROUNDS, BATCH_MS, ALGS)"
        );
        std::process::exit(2);
    }
    if DISPATCH.install_default().is_err() {
        panic!("a jsonwebtoken provider was installed before main");
    }
    assert!(std::ptr::eq(
        CryptoProvider::try_get_default().expect("installed"),
        &DISPATCH
    ));

    let Settings {
        rounds,
        batch_time,
        algorithms,
    } = settings(41, 20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    let fixtures: Vec<Fixture> = algorithms
        .into_iter()
        .map(|(name, alg)| fixture(&runtime, name, alg))
        .collect();

    println!(
        "layer: tower-jwt-auth through JwtAuth, built with .crypto_provider(..) of RING_PROVIDER \
         (ring), AWS_LC_PROVIDER (aws-lc-rs) and DALEK_PROVIDER (ed25519-dalek for EdDSA, ring \
         otherwise), verifiers prepared once per key"
    );
    println!(
        "jsonwebtoken 12 decode on the crate's RING_PROVIDER, jsonwebtoken's aws_lc and \
         rust_crypto providers (through a dispatching process-wide provider)"
    );
    println!(
        "jwt-simple 0.15 (pure-rust) and jwt-authorizer 0.15 (jsonwebtoken 9, ring) bring their \
         own cryptography"
    );
    println!("{rounds} rounds, batches of ~{batch_time:?} per case, cases shuffled per round");
    println!();
    let header = |unit: &str| {
        print!("{unit:<6} |");
        for (name, backend) in CASES {
            let short = match name {
                "floor" => "floor",
                "layer" => "layer",
                "jsonwebtoken" => "jwt",
                "jwt-simple" => "simple",
                _ => "authzr",
            };
            print!(" {:>12}", format!("{short}/{backend}"));
        }
        println!();
    };

    let mut summaries: Vec<Summary> = Vec::new();
    let mut rows: Vec<(&str, Vec<f64>, Vec<f64>, Vec<usize>)> = Vec::new();
    for fx in &fixtures {
        // Sanity: every case accepts the token, and refuses a token with another signature, so
        // that none of them measures a no-op.
        let forged = {
            let (message, signature) = fx.token.rsplit_once('.').expect("jws");
            // Another first character changes the first byte of the signature.
            let first = if signature.starts_with('A') { 'B' } else { 'A' };
            format!("{message}.{first}{}", &signature[1..])
        };
        floor_verify(&fx.token, &fx.floor, fx.name).expect("floor");
        assert!(floor_verify(&forged, &fx.floor, fx.name).is_none());
        assert!((fx.simple)(&fx.token), "jwt-simple refuses the token");
        assert!(!(fx.simple)(&forged), "jwt-simple accepts a forged token");
        for provider in 0..JWT_PROVIDERS.len() {
            let case = JwtCase { fx, provider };
            assert!(case.decode(&fx.token), "jsonwebtoken/{provider} refuses");
            assert!(
                !case.decode(&forged),
                "jsonwebtoken/{provider} accepts a forgery"
            );
        }
        for (index, layer) in fx.layers.iter().enumerate() {
            let mut refused = ServiceCase::new(layer.layer(no_op_service()), &forged);
            let request = refused.request();
            let status = poll_now(refused.service.call(request))
                .expect("infallible")
                .status();
            assert_ne!(status, 200, "the layer on {index} accepts a forged token");
        }
        {
            let mut refused =
                ServiceCase::new(fx.authorizer.layer(no_op_axum07_service()), &forged);
            let request = refused.request();
            let status = poll_now(refused.service.call(request))
                .expect("infallible")
                .status();
            assert_ne!(status, 200, "jwt-authorizer accepts a forged token");
        }

        let floor_case = Simple(|| {
            black_box(floor_verify(black_box(&fx.token), &fx.floor, fx.name));
        });
        let simple_case = Simple(|| {
            black_box((fx.simple)(black_box(&fx.token)));
        });
        let mut cases: Vec<(usize, Box<dyn Case + '_>)> = vec![(0, Box::new(floor_case))];
        for (index, layer) in fx.layers.iter().enumerate() {
            cases.push((
                1 + index,
                Box::new(ServiceCase::new(layer.layer(no_op_service()), &fx.token)),
            ));
        }
        for provider in 0..JWT_PROVIDERS.len() {
            cases.push((4 + provider, Box::new(JwtCase { fx, provider })));
        }
        cases.push((7, Box::new(simple_case)));
        cases.push((
            8,
            Box::new(ServiceCase::new(
                fx.authorizer.layer(no_op_axum07_service()),
                &fx.token,
            )),
        ));
        assert_eq!(cases.len(), CASES.len());
        // Every layer ran the token already; its first call counts nothing lazily made.
        let allocs: Vec<usize> = cases
            .iter_mut()
            .map(|(_, case)| allocations_of_case(&mut **case))
            .collect();
        let mut allocs_by_index = vec![0; CASES.len()];
        for ((index, _), count) in cases.iter().zip(&allocs) {
            allocs_by_index[*index] = *count;
        }

        let (mut times, mut ratios) = measure(&mut cases, rounds, batch_time);
        for (backend, layer, peers) in BACKENDS {
            let peer_ratio = |peer: usize| median(&mut ratios[peer].clone());
            let peer = peers
                .iter()
                .copied()
                .min_by(|a, b| peer_ratio(*a).total_cmp(&peer_ratio(*b)))
                .expect("a peer");
            let mut layer_over_peer: Vec<f64> = times[layer]
                .iter()
                .zip(&times[peer])
                .map(|(l, p)| l / p)
                .collect();
            summaries.push(Summary {
                alg: fx.name,
                backend,
                layer_over_floor: median(&mut ratios[layer].clone()),
                peer,
                peer_over_floor: peer_ratio(peer),
                layer_over_peer: median(&mut layer_over_peer),
            });
        }
        let t: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
        let r: Vec<f64> = ratios.iter_mut().map(|v| median(v)).collect();
        rows.push((fx.name, t, r, allocs_by_index));
    }

    header("ns");
    for (name, t, _, _) in &rows {
        print!("{name:<6} |");
        for value in t {
            print!(" {value:>12.0}");
        }
        println!();
    }
    println!();
    header("/floor");
    for (name, _, r, _) in &rows {
        print!("{name:<6} |");
        for value in r {
            print!(" {value:>12.2}");
        }
        println!();
    }
    println!();
    header("alloc");
    for (name, _, _, a) in &rows {
        print!("{name:<6} |");
        for value in a {
            print!(" {value:>12}");
        }
        println!();
    }
    println!();
    println!(
        "{:<8} {:<6} | {:>12} | {:<28} {:>12} | {:>11} | goal <= 1.05",
        "backend", "alg", "layer/floor", "fastest peer on the backend", "peer/floor", "layer/peer"
    );
    for backend in BACKENDS.map(|(name, _, _)| name) {
        for line in summaries.iter().filter(|line| line.backend == backend) {
            let (peer, peer_backend) = CASES[line.peer];
            println!(
                "{:<8} {:<6} | {:>12.3} | {:<28} {:>12.3} | {:>11.3} | {}",
                line.backend,
                line.alg,
                line.layer_over_floor,
                format!("{peer}/{peer_backend}"),
                line.peer_over_floor,
                line.layer_over_peer,
                if line.layer_over_peer <= 1.05 {
                    "met"
                } else {
                    "MISSED"
                }
            );
        }
    }
    println!();
    println!(
        "ns: medians of per-call times; /floor: medians of the per-round ratios to the floor of \
         the same algorithm (ring, key parsed once); alloc: heap allocations of one call; \
         layer/peer: median of the per-round ratios of the layer's time to the peer's, the peer \
         being the one with the lowest median /floor among those on the backend"
    );
}
