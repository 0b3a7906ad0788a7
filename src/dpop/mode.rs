//! The DPoP modes ([`DpopMode`]) and a layer's setting of them, for every request and per path.

use std::sync::Arc;

use super::DpopConfig;
use crate::error::{ConfigError, DpopChallenge};

/// What a layer (or a route) does with DPoP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopMode {
    /// No DPoP: `Authorization: DPoP` is not read, a bound token passes as a bearer token.
    /// The default.
    #[default]
    Off,
    /// A bound token (one with `cnf.jkt`) needs `Authorization: DPoP` and a valid proof; as a
    /// bearer token it is refused with `dpop_required` (the downgrade RFC 9449 §7.2 forbids).
    /// Plain bearer tokens still pass. Every 401 carries both challenges.
    Allowed,
    /// Every token must be bound and come with a valid proof; anything else is refused with
    /// `dpop_required`. Refusals carry only the `DPoP` challenge.
    Required,
}

/// A layer's DPoP settings: the configuration, the mode for every request, and modes per path.
#[derive(Clone, Debug, Default)]
pub(crate) struct DpopPolicy {
    pub(crate) config: Option<Arc<DpopConfig>>,
    pub(crate) mode: DpopMode,
    pub(crate) paths: Arc<[(Box<str>, DpopMode)]>,
}

impl DpopPolicy {
    /// The mode for a request to `path`: the path's own when it has one, else the layer's.
    pub(crate) fn mode_for(&self, path: &str) -> DpopMode {
        if self.config.is_none() {
            return DpopMode::Off;
        }
        self.paths
            .iter()
            .find(|(p, _)| **p == *path)
            .map_or(self.mode, |(_, mode)| *mode)
    }

    /// Sets the mode for every request, with the default configuration if none is set yet.
    pub(crate) fn set_mode(&mut self, mode: DpopMode) {
        self.config.get_or_insert_with(Default::default);
        self.mode = mode;
    }

    /// Sets the mode for requests to `path`.
    pub(crate) fn set_path(&mut self, path: String, mode: DpopMode) -> Result<(), ConfigError> {
        if !path.starts_with('/') {
            return Err(ConfigError::InvalidRequestPath { path });
        }
        self.config.get_or_insert_with(Default::default);
        let mut paths: Vec<_> = self.paths.iter().cloned().collect();
        paths.retain(|(p, _)| **p != *path);
        paths.push((path.into_boxed_str(), mode));
        self.paths = paths.into();
        Ok(())
    }

    /// The challenge a refusal of a request in `mode` carries.
    pub(crate) fn challenge(&self, mode: DpopMode) -> Option<DpopChallenge> {
        let config = self.config.as_ref()?;
        match mode {
            DpopMode::Off => None,
            DpopMode::Allowed | DpopMode::Required => Some(DpopChallenge {
                algs: config.algs.clone(),
                bearer_too: mode == DpopMode::Allowed,
            }),
        }
    }
}
