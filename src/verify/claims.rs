//! The registered claims of a claims set (RFC 7519 §4.1) as the layer reads them: which claim a
//! member name is ([`classify`]), the claims themselves ([`Registered`]), and the serde helper
//! types they are read with ([`Names`], [`Str`], [`OneOrMany`], [`NumericDate`]).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::AuthError;
use crate::verify::scopes::Scopes;

pub(crate) const NOT_A_CLAIMS_SET: AuthError =
    AuthError::malformed("The token's claims are not a valid claims set");

/// Which registered claim a member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    Exp,
    Nbf,
    Iat,
    Iss,
    Sub,
    Aud,
    Jti,
    /// `sid`, the session id (OpenID Connect; the crate's sessions put it into access tokens).
    /// Read as a string when it is one; a value of another type is left to the user's claims
    /// type, and counts as no `sid` for the revocation check, which then refuses the token.
    Sid,
    ClientId,
    Scope,
    Scp,
    Other,
}

impl Claim {
    /// The claim's bit in [`Registered::seen`](crate::verify::Registered); `None` for a name
    /// that is not one of the registered claims the layer reads.
    #[inline]
    pub(crate) fn bit(self) -> Option<u16> {
        match self {
            Claim::Other => None,
            claim => Some(1 << (claim as u16)),
        }
    }
}

#[inline]
pub(crate) fn classify(name: &str) -> Claim {
    match name {
        "exp" => Claim::Exp,
        "nbf" => Claim::Nbf,
        "iat" => Claim::Iat,
        "iss" => Claim::Iss,
        "sub" => Claim::Sub,
        "aud" => Claim::Aud,
        "jti" => Claim::Jti,
        "sid" => Claim::Sid,
        "client_id" => Claim::ClientId,
        "scope" => Claim::Scope,
        "scp" => Claim::Scp,
        _ => Claim::Other,
    }
}

/// The registered claims the layer judges, read in one pass that also refuses duplicate names
/// (RFC 7519 §4) and claims of the wrong type.
#[derive(Debug, Default)]
pub(crate) struct Registered<'a> {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
    pub(crate) iat: Option<f64>,
    pub(crate) iss: Option<Cow<'a, str>>,
    pub(crate) sub: Option<Cow<'a, str>>,
    pub(crate) jti: Option<Cow<'a, str>>,
    pub(crate) sid: Option<Cow<'a, str>>,
    pub(crate) aud: Option<OneOrMany<'a>>,
    pub(crate) scopes: Scopes,
    /// The registered claim names seen, one bit each ([`Claim::bit`]).
    pub(crate) seen: u16,
    /// Every other name seen.
    pub(crate) names: Names<'a>,
}

impl<'a> Registered<'a> {
    /// Records a member name classified as `claim`: a registered claim name as a bit, without
    /// hashing or storing it, any other name in `names`. A name seen before is refused.
    #[inline]
    pub(crate) fn record(&mut self, claim: Claim, name: Cow<'a, str>) -> Result<(), &'static str> {
        match claim.bit() {
            Some(bit) if self.seen & bit != 0 => Err("duplicate name"),
            Some(bit) => {
                self.seen |= bit;
                Ok(())
            }
            None => self.names.insert(name),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        match classify(name).bit() {
            Some(bit) => self.seen & bit != 0,
            None => self.names.contains(name),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Registered<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClaimsVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ClaimsVisitor<'a> {
            type Value = Registered<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWT claims set object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered<'a>, A::Error> {
                let mut claims = Registered::default();
                let mut scope = None;
                let mut scp = None;
                while let Some(name) = map.next_key::<Str<'de>>()? {
                    let claim = classify(&name.0);
                    match claim {
                        Claim::Exp => claims.exp = Some(map.next_value::<NumericDate>()?.0),
                        Claim::Nbf => claims.nbf = Some(map.next_value::<NumericDate>()?.0),
                        Claim::Iat => claims.iat = Some(map.next_value::<NumericDate>()?.0),
                        Claim::Iss => claims.iss = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::Sub => claims.sub = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::Jti => claims.jti = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::ClientId => {
                            map.next_value::<Str<'de>>()?;
                        }
                        Claim::Sid => {
                            if let Sid(Some(sid)) = map.next_value::<Sid<'de>>()? {
                                claims.sid = Some(sid);
                            }
                        }
                        Claim::Aud => claims.aud = Some(map.next_value::<OneOrMany<'de>>()?),
                        Claim::Scope => scope = Some(map.next_value::<Str<'de>>()?.0),
                        Claim::Scp => scp = Some(map.next_value::<OneOrMany<'de>>()?),
                        Claim::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    claims.record(claim, name.0).map_err(de::Error::custom)?;
                }
                claims.scopes =
                    Scopes::from_claims(scope.as_deref(), scp.as_ref().map(OneOrMany::as_slice))
                        .map_err(de::Error::custom)?;
                Ok(claims)
            }
        }
        deserializer.deserialize_map(ClaimsVisitor(PhantomData))
    }
}

/// A `sid` value: the string when it is one, `None` for any other JSON value (see
/// [`Claim::Sid`]).
struct Sid<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Sid<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Str(#[serde(borrow)] Str<'a>),
            Other(IgnoredAny),
        }
        Ok(Sid(match Either::deserialize(deserializer)? {
            Either::Str(s) => Some(s.0),
            Either::Other(_) => None,
        }))
    }
}

/// The names seen in a JSON object, to refuse duplicates: the first borrowed ones inline,
/// without allocating, the rest (and names with escapes) in a hash set, so that an object of
/// many names costs time linear in its size. A 64-bit filter of their hashes answers most
/// look-ups without comparing strings.
#[derive(Debug)]
pub(crate) struct Names<'a> {
    filter: u64,
    inline: [&'a str; INLINE_NAMES],
    len: usize,
    overflow: HashSet<Cow<'a, str>>,
}

const INLINE_NAMES: usize = 16;

impl Default for Names<'_> {
    fn default() -> Self {
        Self {
            filter: 0,
            inline: [""; INLINE_NAMES],
            len: 0,
            overflow: HashSet::new(),
        }
    }
}

/// One bit of the filter for `name`: its first and last bytes (overlapping for short names)
/// and its length, mixed by one multiplication, without a loop over the bytes.
fn filter_bit(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let len = bytes.len();
    let word = |at: usize| -> u64 {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |at: usize| -> u64 {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    };
    let byte = |at: usize| -> u64 { bytes.get(at).map_or(0, |b| u64::from(*b)) };
    let mixed = if len >= 8 {
        word(0) ^ word(len - 8).rotate_left(29)
    } else if len >= 4 {
        half(0) | half(len - 4) << 32
    } else {
        byte(0) | byte(len / 2) << 8 | byte(len.saturating_sub(1)) << 16
    };
    let hash = (mixed ^ (len as u64).rotate_right(8)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1u64 << (hash >> 58)
}

impl<'a> Names<'a> {
    pub(crate) fn insert(&mut self, name: Cow<'a, str>) -> Result<(), &'static str> {
        let bit = filter_bit(&name);
        if self.filter & bit != 0 && self.scan(&name) {
            return Err("duplicate name");
        }
        self.filter |= bit;
        match name {
            Cow::Borrowed(name) if self.len < INLINE_NAMES => {
                if let Some(slot) = self.inline.get_mut(self.len) {
                    *slot = name;
                    self.len += 1;
                }
            }
            name => {
                self.overflow.insert(name);
            }
        }
        Ok(())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.filter & filter_bit(name) != 0 && self.scan(name)
    }

    fn scan(&self, name: &str) -> bool {
        self.inline.iter().take(self.len).any(|n| *n == name)
            || (!self.overflow.is_empty() && self.overflow.contains(name))
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A string or an array of strings (`aud`, `scp`); a single string needs no allocation.
#[derive(Debug)]
pub(crate) enum OneOrMany<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'a> OneOrMany<'a> {
    pub(crate) fn as_slice(&self) -> &[Cow<'a, str>] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(item) = seq.next_element::<Str<'de>>()? {
                    all.push(item.0);
                }
                Ok(OneOrMany::Many(all))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// RFC 7519 §2 NumericDate: a non-negative JSON number of seconds, fractions allowed.
struct NumericDate(f64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map(|v| NumericDate(v as f64))
                    .map_err(|_| E::custom("negative date"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(NumericDate(v))
                } else {
                    Err(E::custom("date out of range"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_are_classified_exactly() {
        for (name, claim) in [
            ("exp", Claim::Exp),
            ("nbf", Claim::Nbf),
            ("iat", Claim::Iat),
            ("iss", Claim::Iss),
            ("sub", Claim::Sub),
            ("aud", Claim::Aud),
            ("jti", Claim::Jti),
            ("sid", Claim::Sid),
            ("scp", Claim::Scp),
            ("scope", Claim::Scope),
            ("client_id", Claim::ClientId),
        ] {
            assert_eq!(classify(name), claim, "{name}");
        }
        for other in [
            "",
            "e",
            "ex",
            "exq",
            "Exp",
            "exp\0",
            "expp",
            "scopes",
            "client-id",
            "é",
        ] {
            assert_eq!(classify(other), Claim::Other, "{other:?}");
        }
    }

    #[test]
    fn names_refuse_every_repeat_and_only_repeats() {
        let mut names = Names::default();
        // Names sharing their first eight bytes, or differing only in length, or long.
        let distinct = [
            "a",
            "a\0",
            "ab",
            "abcdefgh",
            "abcdefghi",
            "abcdefghj",
            "",
            "exp",
            "https://x.example/a",
            "https://x.example/b",
            "é",
            "e",
        ];
        for name in distinct {
            assert!(names.insert(Cow::Borrowed(name)).is_ok(), "{name:?}");
        }
        for name in distinct {
            assert!(names.contains(name), "{name:?}");
            assert!(names.insert(Cow::Borrowed(name)).is_err(), "{name:?}");
            assert!(
                names.insert(Cow::Owned(name.to_owned())).is_err(),
                "{name:?}"
            );
        }
        assert!(!names.contains("abcdefgz"));
        assert!(!names.contains("https://x.example/c"));
        // Past the inline slots, and names that came with escapes (owned), still count.
        let many: Vec<String> = (0..40).map(|i| format!("claim-{i}")).collect();
        for name in &many {
            assert!(names.insert(Cow::Borrowed(name)).is_ok(), "{name}");
        }
        assert!(names.insert(Cow::Owned("late".to_owned())).is_ok());
        for name in &many {
            assert!(names.insert(Cow::Borrowed(name)).is_err(), "{name}");
        }
        assert!(names.insert(Cow::Borrowed("late")).is_err());
        assert!(names.insert(Cow::Borrowed("a")).is_err());
    }
}

/// [`Names`] (the 64-bit filter, the inline slots, the sorted overflow) and the registered-claim
/// bits of [`Registered::record`] against a plain `HashSet<String>`, on random sequences of
/// inserts and look-ups: names drawn from small pools so that repeats are frequent, long
/// sequences that fill the filter and spill past the inline slots, borrowed and owned names
/// mixed, and families of names that share their filter bit.
#[cfg(test)]
mod differential {
    use std::collections::HashSet;

    use proptest::prelude::*;
    use proptest::sample::{select, Index};
    use proptest::test_runner::Config;

    use super::*;

    /// One step: a name, whether it comes owned (as a name with escapes does), and whether it
    /// is inserted (or only looked up).
    type Step = (String, bool, bool);

    /// Names of 17 bytes or more that differ only in their middle: the filter reads their
    /// first and last eight bytes and their length, so all of one length share one bit.
    fn colliding(middle: &str) -> String {
        format!("https://a.example/{middle}/claim-x")
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[ab]{0,3}",
            3 => "[a-c]{1,3}".prop_map(|middle| colliding(&middle)),
            2 => select(&[
                "exp", "nbf", "iat", "iss", "sub", "aud", "jti", "client_id", "scope", "scp",
                "Exp", "exp\0", "scopes", "", "\0", "é", "e\u{301}", "abcdefgh", "abcdefghi",
            ][..])
            .prop_map(str::to_owned),
            3 => (0u16..400).prop_map(|n| format!("claim-{n}")),
            1 => "\\PC{0,12}",
        ]
    }

    /// Steps over a pool of names, so that repeats are frequent; the pool is up to 64 names,
    /// enough to fill the filter's bits and spill past the inline slots.
    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let pool = prop::collection::vec(name(), 1..64);
        let picks = prop::collection::vec(
            (any::<Index>(), any::<bool>(), prop::bool::weighted(0.8)),
            0..192,
        );
        (pool, picks).prop_map(|(pool, picks)| {
            picks
                .into_iter()
                .map(|(at, owned, insert)| (at.get(&pool).clone(), owned, insert))
                .collect()
        })
    }

    fn cow(name: &str, owned: bool) -> Cow<'_, str> {
        if owned {
            Cow::Owned(name.to_owned())
        } else {
            Cow::Borrowed(name)
        }
    }

    fn names_agree(steps: &[Step]) -> Result<(), TestCaseError> {
        let mut names = Names::default();
        let mut plain = HashSet::new();
        for (i, (name, owned, insert)) in steps.iter().enumerate() {
            if *insert {
                let fresh = plain.insert(name.clone());
                prop_assert_eq!(
                    names.insert(cow(name, *owned)).is_ok(),
                    fresh,
                    "step {} {:?}",
                    i,
                    name
                );
            }
            prop_assert_eq!(
                names.contains(name),
                plain.contains(name),
                "step {} {:?}",
                i,
                name
            );
        }
        for (name, ..) in steps {
            prop_assert_eq!(names.contains(name), plain.contains(name), "end {:?}", name);
        }
        Ok(())
    }

    fn registered_agree(steps: &[Step]) -> Result<(), TestCaseError> {
        let mut claims = Registered::default();
        let mut plain = HashSet::new();
        for (i, (name, owned, insert)) in steps.iter().enumerate() {
            if *insert {
                let fresh = plain.insert(name.clone());
                let recorded = claims.record(classify(name), cow(name, *owned));
                prop_assert_eq!(recorded.is_ok(), fresh, "step {} {:?}", i, name);
            }
            prop_assert_eq!(
                claims.has(name),
                plain.contains(name),
                "step {} {:?}",
                i,
                name
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 1024,
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn names_match_a_hash_set(steps in steps()) {
            names_agree(&steps)?;
        }

        #[test]
        fn registered_names_match_a_hash_set(steps in steps()) {
            registered_agree(&steps)?;
        }
    }

    #[test]
    fn colliding_names_share_a_filter_bit_and_stay_apart() {
        let family: Vec<String> = ["a", "b", "c", "aa", "ab", "ba"]
            .iter()
            .map(|m| colliding(m))
            .collect();
        assert_eq!(filter_bit(&family[0]), filter_bit(&family[1]));
        assert_eq!(filter_bit(&family[0]), filter_bit(&family[2]));
        assert_eq!(filter_bit(&family[3]), filter_bit(&family[5]));
        // Every one of the 64 bits set, then inline slots and overflow full of near misses.
        let many: Vec<String> = (0..300).map(|i| format!("claim-{i}")).collect();
        let mut steps: Vec<Step> = Vec::new();
        for (owned, insert) in [(false, true), (true, true), (false, false)] {
            for name in family.iter().chain(&many) {
                steps.push((name.clone(), owned, insert));
            }
        }
        names_agree(&steps).unwrap();
        registered_agree(&steps).unwrap();
    }
}
