//! The cryptographic floor: the least a correct verifier does, for any claims type. Included by
//! `benches/support/mod.rs` (the two in-process benches) and by `benches/load_reference.rs` (the
//! same floor in a server). It has no global allocator, so a server can include it alone.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature as ring_sig;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The key, ready for ring.
pub enum FloorKey {
    Hmac(ring::hmac::Key),
    Public(ring_sig::UnparsedPublicKey<Vec<u8>>),
}

#[derive(Deserialize)]
struct FloorHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    #[allow(dead_code)]
    kid: Option<Cow<'a, str>>,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Decodes the three segments, parses the header into a borrowed struct and checks `alg`,
/// checks the signature, parses the claims once into `C`, and asks `valid` about them at the
/// current time (`exp`, `nbf`, `iss`, `aud`: the caller's type knows where they are).
pub fn floor_verify_with<C: DeserializeOwned>(
    token: &str,
    key: &FloorKey,
    alg: &str,
    valid: impl FnOnce(&C, u64) -> bool,
) -> Option<C> {
    let (message, signature) = token.rsplit_once('.')?;
    let (header, payload) = message.split_once('.')?;
    let mut buf = [0u8; 1536];
    let (header_buf, rest) = buf.split_at_mut(256);
    let (payload_buf, signature_buf) = rest.split_at_mut(768);
    let n = URL_SAFE_NO_PAD.decode_slice(header, header_buf).ok()?;
    let parsed: FloorHeader<'_> = serde_json::from_slice(header_buf.get(..n)?).ok()?;
    if parsed.alg != alg {
        return None;
    }
    let n = URL_SAFE_NO_PAD
        .decode_slice(signature, signature_buf)
        .ok()?;
    let signature = signature_buf.get(..n)?;
    let ok = match key {
        FloorKey::Hmac(key) => ring::hmac::verify(key, message.as_bytes(), signature).is_ok(),
        FloorKey::Public(key) => key.verify(message.as_bytes(), signature).is_ok(),
    };
    if !ok {
        return None;
    }
    let n = URL_SAFE_NO_PAD.decode_slice(payload, payload_buf).ok()?;
    let claims: C = serde_json::from_slice(payload_buf.get(..n)?).ok()?;
    valid(&claims, now()).then_some(claims)
}
