//! The compact JWS (RFC 7515 §7.1) as bytes: its framing (three base64url segments, the size
//! bounds, the decoding into a scratch buffer) and its JOSE header, parsed once into a borrowed
//! struct.
//!
//! Almost every header on the wire is a flat object of short strings without escapes
//! (`{"alg":"ES256","typ":"JWT","kid":"k1"}`). [`Header::parse`] reads that shape with a
//! byte-level scan and hands every other header (numbers, arrays, objects, escapes, anything it
//! does not recognise) to the complete serde parse, so both paths accept and refuse the same
//! headers; the tests (`jws/tests.rs`) hold them to that.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::{AuthError, ErrorKind};
use crate::verify::claims::{Names, Str};

// ---------------------------------------------------------------------------------------------
// Framing: the three segments, their bounds, and their base64url decoding.

/// The longest encoded header accepted, in bytes.
const MAX_HEADER_LEN: usize = 1024;
/// The longest signature: RSA with an 8192-bit modulus.
const MAX_SIGNATURE_LEN: usize = 1024;
/// Tokens whose decoded segments fit in this many bytes are decoded on the stack: most in the
/// small buffer, larger ones (long claims sets, RSA-4096 signatures) in the larger one.
const SMALL_SCRATCH_LEN: usize = 768;
const STACK_SCRATCH_LEN: usize = 2048;

const NOT_A_JWS: AuthError =
    AuthError::malformed("The token is not a compact JWS of three segments");

const BAD_BASE64: AuthError = AuthError::malformed("The token is not valid base64url");

pub(crate) const BAD_SIGNATURE: AuthError = AuthError::new(
    ErrorKind::InvalidSignature,
    "The token's signature does not verify",
);

/// Decodes base64url into `buf`, which must hold `base64::decoded_len_estimate(segment.len())`
/// bytes.
fn b64_decode_into<'b>(segment: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], AuthError> {
    let len = URL_SAFE_NO_PAD
        .decode_slice(segment, buf)
        .map_err(|_| BAD_BASE64)?;
    buf.get(..len).ok_or(BAD_BASE64)
}

/// The three base64url segments of a compact JWS.
#[derive(Clone, Copy)]
pub(crate) struct Segments<'t> {
    /// What the signature covers: the header and payload segments with the dot between them.
    pub(crate) signed: &'t [u8],
    pub(crate) header: &'t [u8],
    pub(crate) payload: &'t [u8],
    pub(crate) signature: &'t [u8],
}

/// The three segments, decoded.
pub(crate) struct Decoded<'s> {
    pub(crate) header: &'s [u8],
    pub(crate) payload: &'s [u8],
    pub(crate) signature: &'s [u8],
}

impl<'t> Segments<'t> {
    /// The segments of `token`, whose size and structure are checked before any decoding: at
    /// most `max_token_len` bytes, three segments (the header and payload not empty), and the
    /// header and signature within their bounds.
    #[inline]
    pub(crate) fn split(token: &'t [u8], max_token_len: usize) -> Result<Self, AuthError> {
        if token.len() > max_token_len {
            return Err(AuthError::malformed("The token is too large"));
        }
        // The header ends at the first dot, the signature starts after the last one (both scans
        // are short); a dot anywhere else is in the payload, and the base64url decoding refuses
        // it, as it refuses any character outside the alphabet.
        let first = memchr::memchr(b'.', token).ok_or(NOT_A_JWS)?;
        let last = memchr::memrchr(b'.', token).ok_or(NOT_A_JWS)?;
        let (Some(signed), Some(header), Some(payload), Some(signature)) = (
            token.get(..last),
            token.get(..first),
            token.get(first + 1..last),
            token.get(last + 1..),
        ) else {
            return Err(NOT_A_JWS);
        };
        if header.is_empty() || payload.is_empty() || first == last {
            return Err(NOT_A_JWS);
        }
        if header.len() > MAX_HEADER_LEN {
            return Err(AuthError::malformed("The token header is too large"));
        }
        if signature.len() > MAX_SIGNATURE_LEN * 4 / 3 + 2 {
            return Err(BAD_SIGNATURE);
        }
        Ok(Self {
            signed,
            header,
            payload,
            signature,
        })
    }

    /// Room for each of the three decoded segments.
    #[inline]
    pub(crate) fn decoded_lens(&self) -> [usize; 3] {
        [self.header, self.payload, self.signature]
            .map(|segment| base64::decoded_len_estimate(segment.len()))
    }

    /// Decodes the three segments into `scratch`, which holds at least the sum of `lens`
    /// ([`decoded_lens`](Self::decoded_lens)) bytes.
    #[inline]
    pub(crate) fn decode_into<'s>(
        &self,
        [header_len, payload_len, _]: [usize; 3],
        scratch: &'s mut [u8],
    ) -> Result<Decoded<'s>, AuthError> {
        let (header_buf, rest) = scratch.split_at_mut(header_len.min(scratch.len()));
        let (payload_buf, signature_buf) = rest.split_at_mut(payload_len.min(rest.len()));
        Ok(Decoded {
            header: b64_decode_into(self.header, header_buf)?,
            payload: b64_decode_into(self.payload, payload_buf)?,
            signature: b64_decode_into(self.signature, signature_buf)?,
        })
    }
}

/// Runs `f` on a zeroed scratch buffer of at least `len` bytes for the decoded segments: on the
/// stack for ordinary tokens, on the heap, no larger than `len`, for the rest.
#[inline]
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if len <= SMALL_SCRATCH_LEN {
        f(&mut [0; SMALL_SCRATCH_LEN])
    } else if len <= STACK_SCRATCH_LEN {
        f(&mut [0; STACK_SCRATCH_LEN])
    } else {
        f(&mut vec![0; len])
    }
}

// ---------------------------------------------------------------------------------------------
// The JOSE header.

/// The header parameters the layer reads. Every name may appear once; an unknown parameter is
/// ignored (RFC 7515 §4), a parameter the layer refuses to act on is flagged.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub(crate) alg: Cow<'a, str>,
    pub(crate) typ: Option<Cow<'a, str>>,
    pub(crate) kid: Option<Cow<'a, str>>,
    /// A `crit` parameter is present (RFC 7515 §4.1.11); the layer understands no extension.
    pub(crate) crit: bool,
    /// A parameter the layer refuses to act on is present.
    pub(crate) forbidden: bool,
}

/// Parameters that ask the verifier to fetch or trust key material from the token itself, or
/// that belong to encrypted or nested tokens: never acted upon, so refused.
const FORBIDDEN_HEADER: &[&str] = &[
    "jku", "jwk", "x5u", "x5c", "cty", "enc", "zip", "epk", "b64",
];

/// The most members the flat scan keeps track of; a longer header takes the complete parse.
const FLAT_MEMBERS: usize = 8;

impl<'a> Header<'a> {
    /// Parses a header that is already known to be UTF-8. `None` when it is not a JSON object
    /// with a string `alg` and unique member names.
    pub(crate) fn parse(json: &'a str) -> Option<Self> {
        match Self::parse_flat(json) {
            Some(header) => Some(header),
            None => serde_json::from_str(json).ok(),
        }
    }

    /// A flat object whose members are all strings without escapes or control characters, with
    /// an `alg` and no repeated name; `None` for anything else, which the complete parse judges.
    fn parse_flat(json: &'a str) -> Option<Self> {
        let bytes = json.as_bytes();
        let mut at = skip_whitespace(bytes, 0);
        if bytes.get(at) != Some(&b'{') {
            return None;
        }
        at = skip_whitespace(bytes, at + 1);
        let mut header = Header::default();
        let mut alg = None;
        let mut names = [""; FLAT_MEMBERS];
        let mut count = 0;
        loop {
            let (name, next) = plain_string(json, at)?;
            at = skip_whitespace(bytes, next);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = skip_whitespace(bytes, at + 1);
            let (value, next) = plain_string(json, at)?;
            if names.iter().take(count).any(|seen| *seen == name) {
                return None;
            }
            *names.get_mut(count)? = name;
            count += 1;
            match name {
                "alg" => alg = Some(value),
                "typ" => header.typ = Some(Cow::Borrowed(value)),
                "kid" => header.kid = Some(Cow::Borrowed(value)),
                "crit" => header.crit = true,
                other => header.forbidden |= FORBIDDEN_HEADER.contains(&other),
            }
            at = skip_whitespace(bytes, next);
            match bytes.get(at) {
                Some(b',') => at = skip_whitespace(bytes, at + 1),
                Some(b'}') => break,
                _ => return None,
            }
        }
        if skip_whitespace(bytes, at + 1) != bytes.len() {
            return None;
        }
        header.alg = Cow::Borrowed(alg?);
        Some(header)
    }
}

/// RFC 8259 §2: insignificant whitespace.
fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// The JSON string starting at `at`, when it has no escape and no control character, and where
/// the scan continues after it.
fn plain_string(json: &str, at: usize) -> Option<(&str, usize)> {
    let bytes = json.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let start = at + 1;
    let len = bytes
        .get(start..)?
        .iter()
        .position(|b| matches!(*b, b'"' | b'\\' | 0..=0x1f))?;
    let end = start + len;
    if bytes.get(end) != Some(&b'"') {
        return None;
    }
    Some((json.get(start..end)?, end + 1))
}

impl<'de: 'a, 'a> Deserialize<'de> for Header<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for HeaderVisitor<'a> {
            type Value = Header<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'a>, A::Error> {
                let mut header = Header::default();
                let mut alg = None;
                let mut names = Names::default();
                while let Some(name) = map.next_key::<Str<'de>>()? {
                    names.insert(name.0.clone()).map_err(de::Error::custom)?;
                    match &*name.0 {
                        "alg" => alg = Some(map.next_value::<Str<'de>>()?.0),
                        "typ" => header.typ = Some(map.next_value::<Str<'de>>()?.0),
                        "kid" => header.kid = Some(map.next_value::<Str<'de>>()?.0),
                        "crit" => {
                            map.next_value::<IgnoredAny>()?;
                            header.crit = true;
                        }
                        other => {
                            map.next_value::<IgnoredAny>()?;
                            if FORBIDDEN_HEADER.contains(&other) {
                                header.forbidden = true;
                            }
                        }
                    }
                }
                header.alg = alg.ok_or_else(|| de::Error::missing_field("alg"))?;
                Ok(header)
            }
        }
        deserializer.deserialize_map(HeaderVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests;
