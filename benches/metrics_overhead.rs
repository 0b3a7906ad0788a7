//! What the feature `metrics` costs the layer (HS256, the token of `benches/verify.rs`).
//!
//! Built with `--features metrics`, it times, interleaved in shuffled rounds as `verify` does:
//!
//! - `bare`: the layer built before any recorder is installed (its handles record nothing), and
//!   the same layer with the verified-token cache on and warm (`bare-cached`);
//! - `recorded`: the same two layers built after the Prometheus recorder of
//!   `metrics-exporter-prometheus` was installed for the process (every request bumps its
//!   counters), and the medians of the per-round ratios `recorded / bare`.
//!
//! Built without the feature, it times the `bare` layers only. `benches/metrics_overhead.sh`
//! runs both binaries in alternation and compares their `bare` medians: the layer without the
//! feature against the layer with the feature and the recorder.
//!
//! Output: one line `uncached <ns>` and one `cached <ns>` per layer kind, for the script.
//! `ROUNDS` (default 201) and `BATCH_MS` (default 4) as in `verify`.

use std::convert::Infallible;
use std::hint::black_box;

use http::{Request, Response};
use tower::Service;
use tower_jwt_auth::{Algorithm, JwtAuthLayer};

#[path = "support/mod.rs"]
mod support;
use support::*;

type NoBody = http_body_util::Empty<bytes::Bytes>;

type NoOp = tower::util::ServiceFn<
    fn(Request<NoBody>) -> std::future::Ready<Result<Response<()>, Infallible>>,
>;

fn no_op(_req: Request<NoBody>) -> std::future::Ready<Result<Response<()>, Infallible>> {
    std::future::ready(Ok(Response::new(())))
}

/// A request with the token through the layer into the no-op service.
struct LayerCase {
    service: tower_jwt_auth::JwtAuth<NoOp, Claims>,
    header: http::HeaderValue,
}

impl LayerCase {
    fn new(layer: &JwtAuthLayer<Claims>, token: &str) -> Self {
        let service =
            tower::Layer::layer(layer, tower::service_fn(no_op as fn(Request<NoBody>) -> _));
        let mut case = Self {
            service,
            header: format!("Bearer {token}").parse().expect("header"),
        };
        // Accepted, and the cache (if any) warm.
        case.run();
        case
    }
}

impl Case for LayerCase {
    fn run(&mut self) {
        let mut request = Request::new(NoBody::new());
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, self.header.clone());
        let response = poll_now(self.service.call(request)).expect("infallible");
        assert_eq!(response.status(), 200);
        black_box(response);
    }
}

/// The HS256 layer of `verify`, and the same with the cache on.
fn layers(key: &tower_jwt_auth::Key) -> (JwtAuthLayer<Claims>, JwtAuthLayer<Claims>) {
    let builder = || {
        JwtAuthLayer::<Claims>::builder()
            .key(key.clone().with_kid("k1"))
            .issuer(ISSUER)
            .unwrap()
            .audience(AUDIENCE)
            .unwrap()
    };
    let layer = builder().build().expect("layer");
    let cached = builder()
        .token_cache(10_000, 16 << 20)
        .unwrap()
        .build()
        .expect("layer");
    (layer, cached)
}

fn main() {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let Settings {
        rounds, batch_time, ..
    } = settings(201, 4);
    let keys_dir = format!("{}/tests/keys", env!("CARGO_MANIFEST_DIR"));
    let material = material(Algorithm::HS256, &keys_dir);
    let token = material.token;
    let (bare, bare_cached) = layers(&material.key);

    let mut cases: Vec<(usize, Box<dyn Case + '_>)> = vec![
        (0, Box::new(LayerCase::new(&bare, &token))),
        (1, Box::new(LayerCase::new(&bare_cached, &token))),
    ];

    #[cfg(feature = "metrics")]
    let recorded = {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("the recorder installs");
        let layers = layers(&material.key);
        (handle, layers)
    };
    #[cfg(feature = "metrics")]
    {
        let (_, (layer, cached)) = &recorded;
        cases.push((2, Box::new(LayerCase::new(layer, &token))));
        cases.push((3, Box::new(LayerCase::new(cached, &token))));
    }

    let (mut times, _) = measure(&mut cases, rounds, batch_time);
    let feature = if cfg!(feature = "metrics") {
        "on"
    } else {
        "off"
    };
    println!("feature metrics {feature}, {rounds} rounds, HS256, times in ns (medians)");
    println!("bare uncached {:.1}", median(&mut times[0]));
    println!("bare cached {:.1}", median(&mut times[1]));
    #[cfg(feature = "metrics")]
    {
        let ratio = |times: &[Vec<f64>], a: usize, b: usize| -> Vec<f64> {
            times[a].iter().zip(&times[b]).map(|(a, b)| a / b).collect()
        };
        let mut uncached = ratio(&times, 2, 0);
        let mut cached = ratio(&times, 3, 1);
        println!("recorded uncached {:.1}", median(&mut times[2]));
        println!("recorded cached {:.1}", median(&mut times[3]));
        println!(
            "recorded / bare: uncached {:.3} (goal <= 1.05), cached {:.3} (goal <= 1.10)",
            median(&mut uncached),
            median(&mut cached)
        );
        // The recorder saw every request.
        let scrape = recorded.0.render();
        assert!(scrape.contains("jwt_auth_requests_total"), "{scrape}");
    }
}
