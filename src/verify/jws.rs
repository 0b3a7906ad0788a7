//! The compact JWS (RFC 7515 §7.1) as bytes: its framing (three base64url segments, the size
//! bounds, the decoding into a scratch buffer) and its JOSE header, parsed once into a borrowed
//! struct.
//!
//! Almost every header on the wire is a flat object of short strings without escapes
//! (`{"alg":"ES256","typ":"JWT","kid":"k1"}`). [`Header::parse`] reads that shape with a
//! byte-level scan and hands every other header (numbers, arrays, objects, escapes, anything it
//! does not recognise) to the complete serde parse, so both paths accept and refuse the same
//! headers; the tests below hold them to that.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::AuthError;
use crate::verify::claims::{Names, Str};

// ---------------------------------------------------------------------------------------------
// Framing: the three segments, their bounds, and their base64url decoding.

/// The longest encoded header accepted, in bytes.
pub(crate) const MAX_HEADER_LEN: usize = 1024;
/// The longest signature: RSA with an 8192-bit modulus.
pub(crate) const MAX_SIGNATURE_LEN: usize = 1024;
/// Tokens whose decoded segments fit in this many bytes are decoded on the stack: most in the
/// small buffer, larger ones (long claims sets, RSA-4096 signatures) in the larger one.
pub(crate) const SMALL_SCRATCH_LEN: usize = 768;
pub(crate) const STACK_SCRATCH_LEN: usize = 2048;

pub(crate) const NOT_A_JWS: AuthError =
    AuthError::malformed("The token is not a compact JWS of three segments");

const BAD_BASE64: AuthError = AuthError::malformed("The token is not valid base64url");

/// Decodes base64url into `buf`, which must hold `base64::decoded_len_estimate(segment.len())`
/// bytes.
pub(crate) fn b64_decode_into<'b>(
    segment: &[u8],
    buf: &'b mut [u8],
) -> Result<&'b [u8], AuthError> {
    let len = URL_SAFE_NO_PAD
        .decode_slice(segment, buf)
        .map_err(|_| BAD_BASE64)?;
    buf.get(..len).ok_or(BAD_BASE64)
}

/// The three base64url segments of a compact JWS.
#[derive(Clone, Copy)]
pub(crate) struct Segments<'t> {
    pub(crate) header: &'t [u8],
    pub(crate) payload: &'t [u8],
    pub(crate) signature: &'t [u8],
}

impl Segments<'_> {
    /// Room for each of the three decoded segments.
    pub(crate) fn decoded_lens(&self) -> [usize; 3] {
        [self.header, self.payload, self.signature]
            .map(|segment| base64::decoded_len_estimate(segment.len()))
    }
}

/// The algorithm a header's `alg` names, of those the crate supports.
pub(crate) fn algorithm_from_name(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
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
mod tests {
    use super::*;

    fn complete(json: &str) -> Option<Header<'_>> {
        serde_json::from_str(json).ok()
    }

    /// The flat scan either declines or agrees with the complete parse.
    fn agrees(json: &str) -> bool {
        match Header::parse_flat(json) {
            None => true,
            Some(flat) => complete(json).as_ref() == Some(&flat),
        }
    }

    #[test]
    fn the_usual_header_takes_the_flat_scan() {
        let json = r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#;
        let header = Header::parse_flat(json).expect("flat");
        assert_eq!(header.alg, "ES256");
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert!(!header.crit && !header.forbidden);
        assert_eq!(Some(header), complete(json));

        let spaced = " \n{ \"alg\" : \"HS256\" ,\t\"x\":\"é\" }\r\n";
        let header = Header::parse_flat(spaced).expect("flat");
        assert_eq!(header.alg, "HS256");
        assert_eq!(Some(header), complete(spaced));
    }

    #[test]
    fn flags_match_the_complete_parse() {
        for json in [
            r#"{"alg":"HS256","crit":"exp"}"#,
            r#"{"alg":"HS256","jku":"https://evil.example/jwks"}"#,
            r#"{"alg":"HS256","b64":"false"}"#,
            r#"{"alg":"HS256","x5u":""}"#,
        ] {
            let flat = Header::parse_flat(json).expect(json);
            assert!(flat.crit || flat.forbidden, "{json}");
            assert_eq!(Some(flat), complete(json), "{json}");
        }
    }

    #[test]
    fn anything_unusual_goes_to_the_complete_parse() {
        for json in [
            "",
            "{}",
            "[]",
            r#"{"typ":"JWT"}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"a"}"#,
            r#"{"alg":"HS\u0032256"}"#,
            r#"{"a\u006cg":"HS256"}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","n":1}"#,
            r#"{"alg":"HS256","n":null}"#,
            r#"{"alg":"HS256",}"#,
            r#"{"alg":"HS256"} x"#,
            r#"{"alg":"HS256"}}"#,
            r#"{"alg" "HS256"}"#,
            r#"{"alg":"HS256""typ":"JWT"}"#,
            "{\"alg\":\"HS\t256\"}",
            r#"{"alg":"HS256"#,
            r#"{"alg":"#,
            r#"{"alg"#,
            r#"{""#,
            "{",
            r#"{"1":"","2":"","3":"","4":"","5":"","6":"","7":"","8":"","alg":"HS256"}"#,
        ] {
            assert!(Header::parse_flat(json).is_none(), "{json}");
        }
        // The complete parse still reads what it accepts among those.
        assert_eq!(
            Header::parse(r#"{"alg":"HS\u0032256"}"#).map(|h| h.alg.into_owned()),
            Some("HS2256".to_owned())
        );
        assert!(Header::parse(r#"{"alg":"HS256","alg":"none"}"#).is_none());
        assert!(Header::parse(r#"{"alg":"HS256","crit":["exp"]}"#).is_some_and(|h| h.crit));
    }

    #[test]
    fn the_flat_scan_never_disagrees_with_the_complete_parse() {
        // Usual headers as sequences of pieces, each mutated at random (pieces replaced,
        // inserted or dropped): the scan must decline or give exactly what the complete parse
        // gives, on the usual shapes and on every near miss.
        let pieces = [
            "{",
            "}",
            ",",
            ":",
            " ",
            "\"alg\"",
            "\"HS256\"",
            "\"typ\"",
            "\"kid\"",
            "\"crit\"",
            "\"jwk\"",
            "\"\"",
            "1",
            "\"\\n\"",
            "[",
            "]",
            "\"a\"",
            "\n",
            "\"é\"",
            "\"\u{1}\"",
        ];
        let usual: [&[usize]; 4] = [
            &[0, 5, 3, 6, 1],
            &[0, 5, 3, 6, 2, 7, 3, 16, 2, 8, 3, 18, 1],
            &[4, 0, 8, 3, 11, 2, 5, 4, 3, 4, 6, 17, 1, 4],
            &[0, 9, 3, 16, 2, 10, 3, 11, 2, 5, 3, 6, 1],
        ];
        // A deterministic walk (a linear congruential generator).
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |below: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % below
        };
        let (mut flat, mut declined) = (0, 0);
        for round in 0..100_000 {
            let mut sequence: Vec<usize> = usual.get(round % usual.len()).unwrap().to_vec();
            for _ in 0..next(3) {
                let at = next(sequence.len() + 1);
                match next(3) {
                    0 if at < sequence.len() => sequence[at] = next(pieces.len()),
                    1 => sequence.insert(at, next(pieces.len())),
                    _ if at < sequence.len() => drop(sequence.remove(at)),
                    _ => {}
                }
            }
            let json: String = sequence.iter().map(|i| pieces[*i]).collect();
            assert!(agrees(&json), "{json:?}");
            match Header::parse_flat(&json) {
                Some(_) => flat += 1,
                None => declined += 1,
            }
        }
        // The walk reaches both the scan's accepting path and its refusals.
        assert!(flat > 10_000, "{flat} headers took the flat scan");
        assert!(declined > 10_000, "{declined} headers were declined");
    }
}
