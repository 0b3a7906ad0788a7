//! axum integration (placeholder, being written).
