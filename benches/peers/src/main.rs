//! The layer against the other Rust JWT crates, against the cryptographic floor, in the same run.
//!
//! For HS256, RS256 (2048), ES256 and EdDSA, with the typical access token of `benches/verify.rs`
//! (header `alg`, `typ`, `kid`; claims `sub`, `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`, `scope`)
//! and the same checks everywhere (signature, `exp`, `nbf`, `iss`, `aud`; typed claims), it
//! times:
//!
//! - `floor`: the least a correct verifier does, as in `benches/verify.rs`: base64url-decode the
//!   three segments, parse the header into a borrowed struct, check the signature with ring (a
//!   key parsed once), parse the claims once into a typed struct, check the four claims;
//! - `layer`: a request with the token in `Authorization: Bearer` through
//!   [`tower_jwt_auth::JwtAuth`] into a no-op service, claims inserted, on a prepared service
//!   (requests built outside the timing);
//! - `jsonwebtoken`: bare `jsonwebtoken::decode` (version 12) with the installed provider;
//! - `jwt-simple`: `verify_token` of jwt-simple 0.15 with its `pure-rust` backend;
//! - `jwt-authorizer`: a request through jwt-authorizer 0.15's layer into a no-op service, as for
//!   `layer` (it verifies with jsonwebtoken 9, which uses ring and ignores the installed provider).
//!
//! jsonwebtoken's `CryptoProvider` is process-global, so the backend is chosen per run by the
//! first argument (or `PEERS_BACKEND`): `rust_crypto`, `aws_lc` (jsonwebtoken's own providers)
//! or `crate` (the crate's ring provider). The layer keeps verifiers prepared once only when the
//! crate's own provider is installed; with another one it asks that provider for a verifier on
//! each request, so its figure in the `rust_crypto` and `aws_lc` runs is the layer *on that
//! provider*, and the `crate` run gives the layer as it ships.
//!
//! The machines this runs on switch between fast and slow phases, so no case is timed on its
//! own: each round runs a short batch of every case in a shuffled order, the ratio of each case
//! to the floor is taken per round, and the medians are reported. Allocations of one call of
//! each case are counted with a counting global allocator.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- rust_crypto
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- aws_lc
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- crate
//! ```
//!
//! `ROUNDS` (default 41), `BATCH_MS` (default 20) and `ALGS` (default `HS256,RS256,ES256,EdDSA`)
//! as in `benches/verify.rs`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::hint::black_box;

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

/// The jsonwebtoken provider installed for this run.
#[derive(Clone, Copy, PartialEq)]
enum Backend {
    RustCrypto,
    AwsLc,
    Crate,
}

impl Backend {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "rust_crypto" => Some(Self::RustCrypto),
            "aws_lc" | "aws_lc_rs" => Some(Self::AwsLc),
            "crate" | "ring" => Some(Self::Crate),
            _ => None,
        }
    }

    fn install(self) -> &'static CryptoProvider {
        let provider: &'static CryptoProvider = match self {
            Self::RustCrypto => &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
            Self::AwsLc => &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
            Self::Crate => &tower_jwt_auth::crypto::RING_PROVIDER,
        };
        if provider.install_default().is_err() {
            panic!("a jsonwebtoken provider was installed before main");
        }
        let installed = CryptoProvider::try_get_default().expect("installed");
        assert!(std::ptr::eq(installed, provider));
        provider
    }

    fn describe(self) -> &'static str {
        match self {
            Self::RustCrypto => {
                "jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER (RustCrypto), used by \
                 `jsonwebtoken`"
            }
            Self::AwsLc => {
                "jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER (aws-lc-rs), used by \
                 `jsonwebtoken`"
            }
            Self::Crate => {
                "tower_jwt_auth::crypto::RING_PROVIDER (ring), the crate's own, used by \
                 `jsonwebtoken` through jsonwebtoken's per-call factory"
            }
        }
    }
}

/// The crate's provider the layer verifies with, whatever is installed process-wide:
/// `LAYER_BACKEND=ring` (the default) or `LAYER_BACKEND=aws-lc`.
fn layer_provider() -> (&'static CryptoProvider, &'static str) {
    match std::env::var("LAYER_BACKEND").as_deref() {
        Ok("aws-lc") | Ok("aws_lc") => (
            &tower_jwt_auth::crypto::AWS_LC_PROVIDER,
            "tower_jwt_auth::crypto::AWS_LC_PROVIDER (aws-lc-rs, public keys parsed once)",
        ),
        _ => (
            &tower_jwt_auth::crypto::RING_PROVIDER,
            "tower_jwt_auth::crypto::RING_PROVIDER (ring)",
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

type SimpleVerify = Box<dyn Fn(&str) -> bool>;

struct Fixture {
    name: &'static str,
    token: String,
    floor: FloorKey,
    jwt_key: DecodingKey,
    validation: Validation,
    layer: JwtAuthLayer<Claims>,
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
    let layer = JwtAuthLayer::<Claims>::builder()
        .key(key.with_kid("k1"))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .crypto_provider(layer_provider().0)
        .build()
        .expect("layer");
    Fixture {
        name,
        token,
        floor,
        jwt_key,
        validation,
        layer,
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

fn main() {
    let arg = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PEERS_BACKEND").ok());
    let Some(backend) = arg.as_deref().and_then(Backend::parse) else {
        eprintln!(
            "usage: cargo run --release --manifest-path benches/peers/Cargo.toml -- \
             <rust_crypto|aws_lc|crate>   (or PEERS_BACKEND=...)"
        );
        std::process::exit(2);
    };
    backend.install();

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

    println!("provider installed: {}", backend.describe());
    println!(
        "layer: built with .crypto_provider({}), verifiers prepared once per key",
        layer_provider().1
    );
    println!(
        "jwt-simple 0.15 (pure-rust) and jwt-authorizer 0.15 (jsonwebtoken 9, ring) do not use \
         the installed provider"
    );
    println!("{rounds} rounds, batches of ~{batch_time:?} per case, cases shuffled per round");
    println!();
    println!(
        "{:<6} | {:>8} {:>8} {:>8} {:>8} {:>8} | {:>6} {:>6} {:>6} {:>6} | {:>5} {:>5} {:>5} {:>5} {:>5}",
        "", "ns", "", "", "", "", "/floor", "", "", "", "alloc", "", "", "", ""
    );
    println!(
        "{:<6} | {:>8} {:>8} {:>8} {:>8} {:>8} | {:>6} {:>6} {:>6} {:>6} | {:>5} {:>5} {:>5} {:>5} {:>5}",
        "alg",
        "floor",
        "layer",
        "jwt",
        "simple",
        "authzr",
        "layer",
        "jwt",
        "simple",
        "authzr",
        "floor",
        "layer",
        "jwt",
        "simpl",
        "authz"
    );
    for fx in &fixtures {
        // Sanity: every case accepts the token.
        floor_verify(&fx.token, &fx.floor, fx.name).expect("floor");
        jsonwebtoken::decode::<Claims>(&fx.token, &fx.jwt_key, &fx.validation).expect("decode");
        assert!((fx.simple)(&fx.token), "jwt-simple refuses the token");
        let mut layer_case = ServiceCase::new(fx.layer.layer(no_op_service()), &fx.token);
        let mut authorizer_case =
            ServiceCase::new(fx.authorizer.layer(no_op_axum07_service()), &fx.token);
        // A wrong token is refused by every case, so that none of them measures a no-op.
        let forged = {
            let (message, signature) = fx.token.rsplit_once('.').expect("jws");
            // Another first character changes the first byte of the signature.
            let first = if signature.starts_with('A') { 'B' } else { 'A' };
            format!("{message}.{first}{}", &signature[1..])
        };
        assert!(floor_verify(&forged, &fx.floor, fx.name).is_none());
        assert!(jsonwebtoken::decode::<Claims>(&forged, &fx.jwt_key, &fx.validation).is_err());
        assert!(!(fx.simple)(&forged), "jwt-simple accepts a forged token");
        {
            let mut refused = ServiceCase::new(fx.layer.layer(no_op_service()), &forged);
            let request = refused.request();
            let status = poll_now(refused.service.call(request))
                .expect("infallible")
                .status();
            assert_ne!(status, 200, "the layer accepts a forged token");
            let mut refused =
                ServiceCase::new(fx.authorizer.layer(no_op_axum07_service()), &forged);
            let request = refused.request();
            let status = poll_now(refused.service.call(request))
                .expect("infallible")
                .status();
            assert_ne!(status, 200, "jwt-authorizer accepts a forged token");
        }

        let mut floor_case = Simple(|| {
            black_box(floor_verify(black_box(&fx.token), &fx.floor, fx.name));
        });
        let mut jwt_case = Simple(|| {
            black_box(
                jsonwebtoken::decode::<Claims>(black_box(&fx.token), &fx.jwt_key, &fx.validation)
                    .is_ok(),
            );
        });
        let mut simple_case = Simple(|| {
            black_box((fx.simple)(black_box(&fx.token)));
        });
        let allocs = [
            allocations_of_case(&mut floor_case),
            allocations_of_case(&mut layer_case),
            allocations_of_case(&mut jwt_case),
            allocations_of_case(&mut simple_case),
            allocations_of_case(&mut authorizer_case),
        ];

        let mut cases: Vec<(usize, Box<dyn Case + '_>)> = vec![
            (0, Box::new(floor_case)),
            (1, Box::new(layer_case)),
            (2, Box::new(jwt_case)),
            (3, Box::new(simple_case)),
            (4, Box::new(authorizer_case)),
        ];

        let (mut times, mut ratios) = measure(&mut cases, rounds, batch_time);
        let t: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
        let r: Vec<f64> = ratios.iter_mut().map(|v| median(v)).collect();
        println!(
            "{:<6} | {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} | {:>6.2} {:>6.2} {:>6.2} {:>6.2} | {:>5} {:>5} {:>5} {:>5} {:>5}",
            fx.name,
            t[0],
            t[1],
            t[2],
            t[3],
            t[4],
            r[1],
            r[2],
            r[3],
            r[4],
            allocs[0],
            allocs[1],
            allocs[2],
            allocs[3],
            allocs[4],
        );
    }
    println!();
    println!(
        "ns: medians of per-call times; /floor: medians of the per-round ratios to the floor of \
         the same algorithm; alloc: heap allocations of one call"
    );
    println!(
        "cases: floor (ring, key parsed once), layer (tower-jwt-auth, request through JwtAuth), \
         jwt (jsonwebtoken 12 decode), simple (jwt-simple 0.15 verify_token), authzr \
         (jwt-authorizer 0.15 layer)"
    );
}
