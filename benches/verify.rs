//! The cost of the layer against the cryptographic floor, measured in the same run.
//!
//! For each algorithm (HS256, RS256, ES256, EdDSA) and a typical access token (header `alg`,
//! `typ`, `kid`; claims `sub`, `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`, `scope`), it times:
//!
//! - `floor`: the least a correct verifier does: base64url-decode the three segments, parse the
//!   header into a borrowed struct, check the signature with ring (a key parsed once where ring
//!   allows it), parse the claims once into a typed struct, check `exp`, `nbf`, `iss`, `aud`;
//! - `layer`: a request with the token in `Authorization: Bearer` through [`JwtAuth`] into a
//!   no-op service, claims inserted, on a prepared service;
//! - `plumbing`: the same request into the no-op service without the layer, so that
//!   `layer - plumbing` is what the layer itself costs (building the request is part of both);
//! - `layer-cached`: the same with the verified-token cache on and warm;
//! - `verifier`: [`TokenVerifier::verify`] on the token string;
//! - `jsonwebtoken`: bare `jsonwebtoken::decode` of the same token, with the same checks.
//!
//! For HS256 it then times the revocation check against an in-memory store holding unrelated
//! revocations (`layer + check` against `layer`, `cached + check` against `cached`, in rounds of
//! their own): see [`revocation_check`].
//!
//! The machines this runs on switch between fast and slow phases, so no case is timed on its
//! own: each round runs a short batch of every case in a shuffled order, the ratio of each case
//! to the floor is taken per round, and the medians are reported. It also counts the heap
//! allocations of one call of each case with a counting global allocator.
//!
//! For HS256, two more cases measure authorization on a role: a token that also carries
//! `"realm_access": {"roles": ["user", "staff"]}`, through the plain layer and through the same
//! layer with `roles_claim("realm_access.roles")` and `require_roles(["staff"])`, interleaved with
//! the rest; the line `roles` gives the median of the per-round ratios of the two.
//!
//! Last, `dpop`: the same HS256 access token, bound to an ES256 key (`cnf.jkt`), through a layer
//! without DPoP as `Bearer`, and through a layer in DPoP allowed mode as `DPoP` with a fresh
//! proof per request (made outside the timing; the in-memory replay check is in the figure),
//! interleaved with ring's verification of one proof's ES256 signature alone: the line `dpop`
//! gives `(dpop - bearer) / es256-verify`, per round, median (goal <= 1.10). `DPOP=0` skips it.
//!
//! Run with `cargo bench --bench verify`; `ROUNDS` (default 201) and `BATCH_MS` (default 4)
//! override the defaults, `ALGS=HS256,ES256` picks algorithms.

use std::convert::Infallible;
use std::hint::black_box;

use http::{Request, Response};
use jsonwebtoken::{DecodingKey, Validation};
use tower::Service;
use tower_jwt_auth::{Algorithm, JwtAuthLayer};

#[path = "support/mod.rs"]
mod support;
use support::*;

// ---------------------------------------------------------------------------------------------
// Fixtures

struct Fixture {
    name: &'static str,
    token: String,
    floor: FloorKey,
    jwt_key: DecodingKey,
    validation: Validation,
    layer: JwtAuthLayer<Claims>,
    cached: JwtAuthLayer<Claims>,
    /// HS256 only: the token with realm roles, and the layer that requires one of them.
    roles: Option<(String, JwtAuthLayer<Claims>)>,
}

/// The claims of the benchmark token, plus Keycloak's realm roles.
fn roles_token(algorithm: Algorithm) -> String {
    let mut claims = serde_json::to_value(support::claims()).expect("claims");
    claims["realm_access"] = serde_json::json!({ "roles": ["user", "staff"] });
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = Some("k1".into());
    header.typ = Some("at+jwt".into());
    let key = jsonwebtoken::EncodingKey::from_secret(support::SECRET.as_bytes()).expect("secret");
    jsonwebtoken::encode(&header, &claims, &key).expect("token")
}

fn fixture(name: &'static str, algorithm: Algorithm) -> Fixture {
    let keys_dir = format!("{}/tests/keys", env!("CARGO_MANIFEST_DIR"));
    let Material {
        token,
        floor,
        jwt_key,
        validation,
        key,
    } = material(algorithm, &keys_dir);
    let builder = || {
        JwtAuthLayer::<Claims>::builder()
            .key(key.clone().with_kid("k1"))
            .issuer(ISSUER)
            .unwrap()
            .audience(AUDIENCE)
    };
    let layer = builder().unwrap().build().expect("layer");
    let cached = builder()
        .unwrap()
        .token_cache(10_000, 16 << 20)
        .unwrap()
        .build()
        .expect("layer");
    let roles = (algorithm == Algorithm::HS256).then(|| {
        let layer = builder()
            .unwrap()
            .roles_claim("realm_access.roles")
            .unwrap()
            .require_roles(["staff"])
            .unwrap()
            .build()
            .expect("layer");
        (roles_token(algorithm), layer)
    });
    Fixture {
        name,
        token,
        floor,
        jwt_key,
        validation,
        layer,
        cached,
        roles,
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement

/// The request body of the cases: none (a zero-sized body that reports its end).
type NoBody = http_body_util::Empty<bytes::Bytes>;

type NoOp = tower::util::ServiceFn<
    fn(Request<NoBody>) -> std::future::Ready<Result<Response<()>, Infallible>>,
>;

fn no_op(_req: Request<NoBody>) -> std::future::Ready<Result<Response<()>, Infallible>> {
    std::future::ready(Ok(Response::new(())))
}

struct LayerCase {
    service: tower_jwt_auth::JwtAuth<NoOp, Claims>,
    header: http::HeaderValue,
}

impl LayerCase {
    fn new(layer: &JwtAuthLayer<Claims>, token: &str) -> Self {
        let service =
            tower::Layer::layer(layer, tower::service_fn(no_op as fn(Request<NoBody>) -> _));
        Self {
            service,
            header: format!("Bearer {token}").parse().expect("header"),
        }
    }

    fn request(&self) -> Request<NoBody> {
        let mut request = Request::new(NoBody::new());
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, self.header.clone());
        request
    }

    fn call(&mut self, request: Request<NoBody>) {
        let response = poll_now(self.service.call(request)).expect("infallible");
        assert_eq!(response.status(), 200);
        black_box(response);
    }
}

impl Case for LayerCase {
    fn run(&mut self) {
        // Built here, as a server builds it right before the layer sees it; `plumbing` pays
        // the same.
        let request = self.request();
        self.call(request);
    }
}

/// The same request into the no-op service without the layer: what building the request and
/// dropping it and the response cost, which the floor does not include.
struct PlumbingCase {
    service: NoOp,
    header: http::HeaderValue,
}

impl Case for PlumbingCase {
    fn run(&mut self) {
        let mut request = Request::new(NoBody::new());
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, self.header.clone());
        let response = poll_now(self.service.call(request)).expect("infallible");
        black_box(response);
    }
}

fn main() {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let Settings {
        rounds,
        batch_time,
        algorithms,
    } = settings(201, 4);
    let fixtures: Vec<Fixture> = algorithms
        .into_iter()
        .map(|(name, alg)| fixture(name, alg))
        .collect();

    println!("{rounds} rounds, batches of ~{batch_time:?} per case, cases shuffled per round");
    println!(
        "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9} | {:>7} {:>7} {:>7} {:>7} | allocations: floor layer verifier jwt cached",
        "alg", "floor", "layer", "verifier", "jwt", "cached", "layer", "verif.", "jwt", "cached"
    );
    let mut cached_vs_hs256_floor = Vec::new();
    let mut hs256_floor = None;
    for fx in &fixtures {
        let verifier = fx.layer.verifier();
        // Sanity: every case accepts the token.
        floor_verify(&fx.token, &fx.floor, fx.name).expect("floor");
        jsonwebtoken::decode::<Claims>(&fx.token, &fx.jwt_key, &fx.validation).expect("decode");
        verifier.verify(&fx.token).expect("verifier");

        if let Ok(case) = std::env::var("PROFILE") {
            // For a profiler: one case, many times, nothing else.
            let mut layer = LayerCase::new(&fx.layer, &fx.token);
            for _ in 0..100_000 {
                match case.as_str() {
                    "none" => {}
                    "floor" => drop(black_box(floor_verify(&fx.token, &fx.floor, fx.name))),
                    "verifier" => drop(black_box(verifier.verify(&fx.token))),
                    "roles" | "roles-plain" => {
                        let Some((token, roles_layer)) = &fx.roles else {
                            continue;
                        };
                        let layer = if case == "roles" {
                            roles_layer
                        } else {
                            &fx.layer
                        };
                        let mut case = LayerCase::new(layer, token);
                        let request = case.request();
                        case.call(request);
                    }
                    "cached" => {
                        let mut cached = LayerCase::new(&fx.cached, &fx.token);
                        let request = cached.request();
                        cached.call(request);
                    }
                    _ => {
                        let request = layer.request();
                        layer.call(request);
                    }
                }
            }
            continue;
        }
        let layer_case = LayerCase::new(&fx.layer, &fx.token);
        let allocs = [
            allocations_of(|| {
                black_box(floor_verify(&fx.token, &fx.floor, fx.name));
            }),
            {
                let request = layer_case.request();
                let second = layer_case.request();
                let mut requests = vec![request, second].into_iter();
                let mut case = LayerCase::new(&fx.layer, &fx.token);
                allocations_of(|| case.call(requests.next().expect("two")))
            },
            allocations_of(|| {
                black_box(verifier.verify(&fx.token).is_ok());
            }),
            allocations_of(|| {
                black_box(
                    jsonwebtoken::decode::<Claims>(&fx.token, &fx.jwt_key, &fx.validation).is_ok(),
                );
            }),
            {
                let mut case = LayerCase::new(&fx.cached, &fx.token);
                let requests: Vec<_> = (0..3).map(|_| case.request()).collect();
                let mut requests = requests.into_iter();
                // The first call fills the cache; `allocations_of` counts the third.
                case.call(requests.next().expect("three"));
                allocations_of(|| case.call(requests.next().expect("three")))
            },
        ];

        let mut cases: Vec<(usize, Box<dyn Case + '_>)> = vec![
            (
                0,
                Box::new(Simple(|| {
                    black_box(floor_verify(black_box(&fx.token), &fx.floor, fx.name));
                })),
            ),
            (1, Box::new(layer_case)),
            (4, Box::new(LayerCase::new(&fx.cached, &fx.token))),
            (
                5,
                Box::new(PlumbingCase {
                    service: tower::service_fn(no_op as fn(Request<NoBody>) -> _),
                    header: format!("Bearer {}", fx.token).parse().expect("header"),
                }),
            ),
            (
                2,
                Box::new(Simple(|| {
                    black_box(verifier.verify(black_box(&fx.token)).is_ok());
                })),
            ),
            (
                3,
                Box::new(Simple(|| {
                    black_box(
                        jsonwebtoken::decode::<Claims>(
                            black_box(&fx.token),
                            &fx.jwt_key,
                            &fx.validation,
                        )
                        .is_ok(),
                    );
                })),
            ),
        ];

        let mut roles_allocs = [0; 2];
        if let Some((token, roles_layer)) = &fx.roles {
            // The token with roles, through the plain layer (6) and the one requiring a role (7).
            for (i, layer) in [&fx.layer, roles_layer].into_iter().enumerate() {
                let mut case = LayerCase::new(layer, token);
                case.run();
                let mut requests = vec![case.request(), case.request()].into_iter();
                roles_allocs[i] = allocations_of(|| case.call(requests.next().expect("two")));
            }
            cases.push((6, Box::new(LayerCase::new(&fx.layer, token))));
            cases.push((7, Box::new(LayerCase::new(roles_layer, token))));
        }

        let (mut times, mut ratios) = measure(&mut cases, rounds, batch_time);
        println!(
            "{:<6} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} | {:>7.3} {:>7.3} {:>7.3} {:>7.3} | {:>5} {:>5} {:>8} {:>3} {:>6}",
            fx.name,
            median(&mut times[0]),
            median(&mut times[1]),
            median(&mut times[2]),
            median(&mut times[3]),
            median(&mut times[4]),
            median(&mut ratios[1]),
            median(&mut ratios[2]),
            median(&mut ratios[3]),
            median(&mut ratios[4]),
            allocs[0],
            allocs[1],
            allocs[2],
            allocs[3],
            allocs[4],
        );
        let mut own: Vec<f64> = times[1]
            .iter()
            .zip(&times[5])
            .zip(&times[0])
            .map(|((layer, plumbing), floor)| (layer - plumbing) / floor)
            .collect();
        println!(
            "       plumbing {:.0} ns (request in, response out, no layer); (layer - plumbing) / floor = {:.3}",
            median(&mut times[5]),
            median(&mut own),
        );
        if fx.roles.is_some() {
            let mut roles_ratio: Vec<f64> = times[7]
                .iter()
                .zip(&times[6])
                .map(|(with, without)| with / without)
                .collect();
            println!(
                "       roles: layer {:.0} ns, layer + role requirement {:.0} ns (same token with realm_access.roles); ratio {:.3}; allocations {} and {}",
                median(&mut times[6]),
                median(&mut times[7]),
                median(&mut roles_ratio),
                roles_allocs[0],
                roles_allocs[1],
            );
        }
        cached_vs_hs256_floor.push((fx.name, median(&mut times[4])));
        if fx.name == "HS256" {
            revocation_check(fx, rounds, batch_time);
        }
        if fx.name == "HS256" {
            hs256_floor = Some(median(&mut times[0]));
        }
    }
    if std::env::var("DPOP").as_deref() != Ok("0") {
        dpop_check(rounds, batch_time);
    }
    println!("times in ns (medians); ratios to the floor of the same algorithm, medians of per-round ratios; allocations per call");
    if let Some(floor) = hs256_floor {
        for (name, cached) in cached_vs_hs256_floor {
            println!("{name}: cached hit / HS256 floor = {:.3} (across phases: the two medians come from different groups)", cached / floor);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The revocation check

/// HS256 layer + `MemoryStore` revocation check against the layer alone, and a cached hit +
/// check against a cached hit, interleaved in rounds of their own. The store holds unrelated
/// revocations (revoked `jti`s, ended sessions, subject cutoffs), so the check does its
/// look-ups rather than the empty store's shortcut. The bench token has no `sid`, so the check
/// reads its `jti` and its subject's cutoff (`revocation_sid_optional`).
fn revocation_check(fx: &Fixture, rounds: usize, batch_time: std::time::Duration) {
    use tower_jwt_auth::revocation::RevocationStore;
    use tower_jwt_auth::session::{MemoryStore, SessionLimits, SessionStore};

    // The store's epoch is its start, and it refuses tokens issued before it: the fixture's
    // token was minted earlier, so the store's clock starts an hour back.
    let store = MemoryStore::builder()
        .clock(tower_jwt_auth::clock::Clock::manual(
            std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
        ))
        .build();
    let keep = std::time::Duration::from_secs(3600);
    let limits = SessionLimits::default();
    for i in 0..100 {
        poll_now(store.revoke_token("", &format!("other-jti-{i}"), keep)).expect("revoke");
        poll_now(store.end_session("", &format!("other-sid-{i}"), &limits)).expect("end");
        poll_now(store.set_subject_cutoff("", &format!("other-sub-{i}"), keep)).expect("cutoff");
    }
    let keys_dir = format!("{}/tests/keys", env!("CARGO_MANIFEST_DIR"));
    let key = material(Algorithm::HS256, &keys_dir).key;
    let builder = || {
        JwtAuthLayer::<Claims>::builder()
            .key(key.clone().with_kid("k1"))
            .issuer(ISSUER)
            .unwrap()
            .audience(AUDIENCE)
            .unwrap()
            .revocation(store.clone())
            .revocation_sid_optional(true)
    };
    let checked = builder().build().expect("layer");
    let cached_checked = builder()
        .token_cache(10_000, 16 << 20)
        .unwrap()
        .build()
        .expect("layer");

    let allocations = |layer: &JwtAuthLayer<Claims>| {
        let mut case = LayerCase::new(layer, &fx.token);
        let requests: Vec<_> = (0..3).map(|_| case.request()).collect();
        let mut requests = requests.into_iter();
        // The first call fills the cache (if any); `allocations_of` warms up with the second
        // and counts the third.
        case.call(requests.next().expect("three"));
        allocations_of(|| case.call(requests.next().expect("three")))
    };
    let allocs = [
        allocations(&fx.layer),
        allocations(&checked),
        allocations(&fx.cached),
        allocations(&cached_checked),
    ];
    let mut cases: Vec<(usize, Box<dyn Case + '_>)> = vec![
        (0, Box::new(LayerCase::new(&fx.layer, &fx.token))),
        (1, Box::new(LayerCase::new(&checked, &fx.token))),
        (2, Box::new(LayerCase::new(&fx.cached, &fx.token))),
        (3, Box::new(LayerCase::new(&cached_checked, &fx.token))),
    ];
    let (mut times, _) = measure(&mut cases, rounds, batch_time);
    let ratio = |times: &[Vec<f64>], a: usize, b: usize| -> Vec<f64> {
        times[a].iter().zip(&times[b]).map(|(a, b)| a / b).collect()
    };
    let mut check_vs_layer = ratio(&times, 1, 0);
    let mut cached_check_vs_cached = ratio(&times, 3, 2);
    println!(
        "HS256 revocation check (MemoryStore, 300 unrelated revocations): layer {:.0} ns, \
         layer + check {:.0} ns ({:.3}x, goal <= 1.15x); cached {:.0} ns, cached + check {:.0} ns \
         ({:.3}x, goal <= 2x); allocations per call: {} {} {} {}",
        median(&mut times[0]),
        median(&mut times[1]),
        median(&mut check_vs_layer),
        median(&mut times[2]),
        median(&mut times[3]),
        median(&mut cached_check_vs_cached),
        allocs[0],
        allocs[1],
        allocs[2],
        allocs[3],
    );
}

// ---------------------------------------------------------------------------------------------
// DPoP

/// Proofs signed by the client's ES256 key for `GET https://api.example/me` with the `ath` of
/// one access token, each with its own `jti`.
struct Prover {
    key: ring::signature::EcdsaKeyPair,
    header: String,
    ath: String,
    next: u64,
}

impl Prover {
    fn new(token: &str) -> (Self, String) {
        use base64::Engine as _;
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        let point = key.public_key().as_ref();
        let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
        let header = serde_json::json!({
            "typ": "dpop+jwt", "alg": "ES256",
            "jwk": { "kty": "EC", "crv": "P-256", "x": x, "y": y },
        });
        let thumbprint = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = b64(ring::digest::digest(&ring::digest::SHA256, thumbprint.as_bytes()).as_ref());
        let prover = Self {
            key,
            header: b64(header.to_string().as_bytes()),
            ath: b64(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref()),
            next: 0,
        };
        (prover, jkt)
    }

    /// A fresh proof: its compact form, its signing input and its signature.
    fn proof(&mut self) -> (String, String, Vec<u8>) {
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        self.next += 1;
        let iat = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        let claims = serde_json::json!({
            "jti": format!("bench-{}", self.next), "htm": "GET",
            "htu": "https://api.example/me", "iat": iat, "ath": self.ath,
        });
        let input = format!("{}.{}", self.header, b64(claims.to_string().as_bytes()));
        let rng = ring::rand::SystemRandom::new();
        let signature = self.key.sign(&rng, input.as_bytes()).expect("sign");
        let signature = signature.as_ref().to_vec();
        (format!("{input}.{}", b64(&signature)), input, signature)
    }
}

/// A request through a layer: `Authorization: <scheme> <token>`, plus a fresh `DPoP` proof per
/// request when `prover` is set (made in `prepare`, outside the timing).
struct DpopCase {
    service: tower_jwt_auth::JwtAuth<NoOp, Claims>,
    authorization: http::HeaderValue,
    prover: Option<Prover>,
    proofs: Vec<http::HeaderValue>,
}

impl DpopCase {
    fn new(layer: &JwtAuthLayer<Claims>, authorization: String, prover: Option<Prover>) -> Self {
        Self {
            service: tower::Layer::layer(
                layer,
                tower::service_fn(no_op as fn(Request<NoBody>) -> _),
            ),
            authorization: authorization.parse().expect("header"),
            prover,
            proofs: Vec::new(),
        }
    }
}

impl Case for DpopCase {
    fn prepare(&mut self, n: usize) {
        if let Some(prover) = &mut self.prover {
            self.proofs = (0..n)
                .map(|_| prover.proof().0.parse().expect("header"))
                .collect();
        }
    }

    fn run(&mut self) {
        let mut request = Request::new(NoBody::new());
        *request.uri_mut() = http::Uri::from_static("https://api.example/me");
        let headers = request.headers_mut();
        headers.insert(http::header::AUTHORIZATION, self.authorization.clone());
        if self.prover.is_some() {
            headers.insert("dpop", self.proofs.pop().expect("a proof per call"));
        }
        let response = poll_now(self.service.call(request)).expect("infallible");
        assert_eq!(response.status(), 200);
        black_box(response);
    }
}

/// ring's verification of one proof's ES256 signature, over its signing input.
struct Es256Verify {
    prover: Prover,
    point: Vec<u8>,
    proofs: Vec<(String, Vec<u8>)>,
}

impl Case for Es256Verify {
    fn prepare(&mut self, n: usize) {
        self.proofs = (0..n)
            .map(|_| {
                let (_, input, signature) = self.prover.proof();
                (input, signature)
            })
            .collect();
    }

    fn run(&mut self) {
        use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
        let (input, signature) = self.proofs.pop().expect("a proof per call");
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point);
        assert!(key.verify(input.as_bytes(), &signature).is_ok());
    }
}

/// The cost of a DPoP proof check against ES256 verification alone: see the module docs.
fn dpop_check(rounds: usize, batch_time: std::time::Duration) {
    use ring::signature::KeyPair;
    use tower_jwt_auth::dpop::DpopMode;
    let keys_dir = format!("{}/tests/keys", env!("CARGO_MANIFEST_DIR"));
    let key = material(Algorithm::HS256, &keys_dir).key;
    // The benchmark's claims, bound to the client's key.
    let (mut prover, jkt) = Prover::new("");
    let mut claims = serde_json::to_value(support::claims()).expect("claims");
    claims["cnf"] = serde_json::json!({ "jkt": jkt });
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    header.typ = Some("at+jwt".into());
    let secret = jsonwebtoken::EncodingKey::from_secret(support::SECRET.as_bytes()).expect("key");
    let token = jsonwebtoken::encode(&header, &claims, &secret).expect("token");
    prover.ath = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
    };
    let builder = || {
        JwtAuthLayer::<Claims>::builder()
            .key(key.clone().with_kid("k1"))
            .issuer(ISSUER)
            .unwrap()
            .audience(AUDIENCE)
            .unwrap()
    };
    let plain = builder().build().expect("layer");
    let dpop = builder().dpop(DpopMode::Allowed).build().expect("layer");
    // The reference: another key's proofs, the same shape.
    let (reference, _) = Prover::new("");
    let reference_point = reference.key.public_key().as_ref().to_vec();
    let mut cases: Vec<(usize, Box<dyn Case + '_>)> = vec![
        (
            0,
            Box::new(Es256Verify {
                prover: reference,
                point: reference_point,
                proofs: Vec::new(),
            }),
        ),
        (
            1,
            Box::new(DpopCase::new(&plain, format!("Bearer {token}"), None)),
        ),
        (
            2,
            Box::new(DpopCase::new(&dpop, format!("DPoP {token}"), Some(prover))),
        ),
    ];
    let (mut times, _) = measure(&mut cases, rounds, batch_time);
    let mut check: Vec<f64> = times[2]
        .iter()
        .zip(&times[1])
        .zip(&times[0])
        .map(|((dpop, bearer), verify)| (dpop - bearer) / verify)
        .collect();
    println!(
        "dpop (HS256 token bound to an ES256 key): bearer, no DPoP {:.0} ns; DPoP with a fresh \
         proof {:.0} ns; ES256 verify alone {:.0} ns; (dpop - bearer) / es256 verify = {:.3} \
         (goal <= 1.10)",
        median(&mut times[1]),
        median(&mut times[2]),
        median(&mut times[0]),
        median(&mut check),
    );
}
