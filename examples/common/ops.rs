//! The operations routes of the examples, outside every authentication layer and never counted:
//!
//! | route | answer |
//! |---|---|
//! | `GET /healthz` | `200` while the process runs |
//! | `GET /readyz` | `200` or `503`, `{"ready": bool, "checks": {"keys": "ok" \| "<why not>", "store": ...}}` (only the checks that apply) |
//! | `GET /metrics` | with `--features metrics`: every metric in the Prometheus text format |
//!
//! The examples serve them on their one address for simplicity. In production, keep `/metrics`
//! (and the probes) off the public listener: serve them on a second, internal address (see the
//! operations guide of the crate).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tower_jwt_auth::{BoxError, JwtAuthLayer, Readiness};

/// Asks whether the service can judge tokens now.
pub type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Readiness> + Send>> + Send + Sync>;

/// The readiness of `layer`: its keys, and its revocation store when it has one.
pub fn layer_probe<C, R>(layer: &JwtAuthLayer<C, R>) -> Probe
where
    C: Send + Sync + 'static,
    R: Clone + Send + Sync + 'static,
{
    let layer = layer.clone();
    Arc::new(move || {
        let layer = layer.clone();
        Box::pin(async move { layer.readiness().await })
    })
}

/// The buckets of the store histograms, in seconds (the operations guide's).
pub const BUCKETS: [f64; 11] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/// The installed Prometheus recorder, or nothing without the feature `metrics`.
#[cfg(feature = "metrics")]
pub type Metrics = Option<metrics_exporter_prometheus::PrometheusHandle>;
/// The installed Prometheus recorder, or nothing without the feature `metrics`.
#[cfg(not(feature = "metrics"))]
pub type Metrics = Option<std::convert::Infallible>;

/// Installs the Prometheus recorder for the process, with [`BUCKETS`]. Call it before building
/// any layer: a layer takes its metric handles from the recorder installed when it is built.
#[cfg(feature = "metrics")]
pub fn install_metrics() -> Result<Metrics, BoxError> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&BUCKETS)?
        .install_recorder()?;
    Ok(Some(handle))
}

/// Without the feature `metrics`: nothing to install, no `/metrics`.
#[cfg(not(feature = "metrics"))]
pub fn install_metrics() -> Result<Metrics, BoxError> {
    Ok(None)
}

/// The JSON of `/readyz`.
pub fn readiness_json(readiness: &Readiness) -> Value {
    let checks: Map<String, Value> = readiness
        .checks()
        .map(|(name, check)| (name.to_owned(), Value::from(check.as_str())))
        .collect();
    json!({ "ready": readiness.is_ready(), "checks": checks })
}

/// `/healthz`, `/readyz` and, with a recorder, `/metrics`.
pub fn routes(probe: Probe, metrics: Metrics) -> Router {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let probe = probe.clone();
                async move {
                    let readiness = probe().await;
                    let status = if readiness.is_ready() {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, Json(readiness_json(&readiness)))
                }
            }),
        );
    match metrics {
        #[cfg(feature = "metrics")]
        Some(handle) => router.route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [("content-type", "text/plain; version=0.0.4")],
                        handle.render(),
                    )
                }
            }),
        ),
        #[allow(unreachable_patterns)]
        _ => router,
    }
}
