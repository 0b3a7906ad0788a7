//! tonic integration (placeholder, being written).
