//! One parse of the claims set that yields both the user's claims type and the registered claims
//! the layer judges.
//!
//! The user's `C` is deserialized from serde_json through a thin wrapper that watches the
//! top-level object: it records every member name (to refuse duplicates, RFC 7519 §4) and, for
//! the registered claims only, the values `C` reads or skips (`exp`, `nbf`, `iat` as numbers;
//! `iss`, `sub`, `jti`, `client_id`, `scope` as strings, `sid` when it is one; `aud` and `scp` as a string or an array
//! of strings). Every other member goes straight to `C`'s own visitor. A registered claim of the
//! wrong type is recorded as such, whatever `C` makes of it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::verify::claims::{classify, Claim, OneOrMany, Registered};
use crate::verify::grants::{GrantPaths, Node, Roles};

/// What the watch saw.
#[derive(Debug, Default)]
pub(crate) struct Observed<'de> {
    pub(crate) registered: Registered<'de>,
    pub(crate) scope: Option<Cow<'de, str>>,
    pub(crate) scp: Option<OneOrMany<'de>>,
    /// The claims set was an object.
    pub(crate) saw_object: bool,
    /// A registered claim had the wrong type, or a name appeared twice.
    pub(crate) invalid: bool,
    /// The paths of the claims that grant roles; `None` (or empty) watches none.
    pub(crate) paths: Option<&'de GrantPaths>,
    /// The roles granted at those paths.
    pub(crate) granted: Roles,
}

/// Deserializes `C` from `json`, watching the registered claims into `observed`.
pub(crate) fn parse<'de, C: de::Deserialize<'de>>(
    json: &'de str,
    observed: &mut Observed<'de>,
) -> Result<C, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let claims = C::deserialize(Top {
        de: &mut de,
        observed,
    })?;
    de.end()?;
    Ok(claims)
}

// ---------------------------------------------------------------------------------------------
// The top level: always an object.

struct Top<'a, 'o, 'de> {
    de: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    observed: &'o mut Observed<'de>,
}

impl<'de> Deserializer<'de> for Top<'_, '_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.de.deserialize_map(TopVisitor {
            inner: visitor,
            observed: self.observed,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct TopVisitor<'o, 'de, V> {
    inner: V,
    observed: &'o mut Observed<'de>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TopVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.observed.saw_object = true;
        self.inner.visit_map(TapMap {
            map,
            observed: self.observed,
            current: Claim::Other,
            grant: None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The members of the top-level object.

struct TapMap<'o, 'de, A> {
    map: A,
    observed: &'o mut Observed<'de>,
    current: Claim,
    /// The current member starts a path that grants roles.
    grant: Option<&'de Node>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TapMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut name = None;
        let key = self.map.next_key_seed(KeySeed {
            inner: seed,
            name: &mut name,
        })?;
        if key.is_some() {
            let name = name.ok_or_else(|| de::Error::custom("a claim name is not a string"))?;
            self.current = classify(&name);
            self.grant = match (self.current, self.observed.paths) {
                (Claim::Other, Some(paths)) => paths.root.child(&name),
                _ => None,
            };
            if self.observed.registered.record(self.current, name).is_err() {
                self.observed.invalid = true;
                return Err(de::Error::custom("duplicate claim"));
            }
        }
        Ok(key)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match self.current {
            Claim::Other => match self.grant {
                None => self.map.next_value_seed(seed),
                Some(node) => self.map.next_value_seed(GrantSeed {
                    inner: seed,
                    node,
                    granted: &mut self.observed.granted,
                }),
            },
            claim => self.map.next_value_seed(ValueSeed {
                inner: seed,
                claim,
                observed: self.observed,
            }),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

// ---------------------------------------------------------------------------------------------
// Member names.

struct KeySeed<'n, 'de, K> {
    inner: K,
    name: &'n mut Option<Cow<'de, str>>,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, 'de, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        self.inner.deserialize(KeyDe {
            de: deserializer,
            name: self.name,
        })
    }
}

struct KeyDe<'n, 'de, D> {
    de: D,
    name: &'n mut Option<Cow<'de, str>>,
}

macro_rules! key_forward {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.de.$method(KeyVisitor { inner: visitor, name: self.name })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDe<'_, 'de, D> {
    type Error = D::Error;

    key_forward! {
        deserialize_any deserialize_str deserialize_string deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // The name is needed even when `C` ignores it.
        self.de.deserialize_str(KeyVisitor {
            inner: visitor,
            name: self.name,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum
    }
}

struct KeyVisitor<'n, 'de, V> {
    inner: V,
    name: &'n mut Option<Cow<'de, str>>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        *self.name = Some(Cow::Borrowed(v));
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        *self.name = Some(Cow::Owned(v.to_owned()));
        self.inner.visit_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        *self.name = Some(Cow::Owned(v.clone()));
        self.inner.visit_string(v)
    }
}

// ---------------------------------------------------------------------------------------------
// The values of registered claims.

struct ValueSeed<'o, 'de, S> {
    inner: S,
    claim: Claim,
    observed: &'o mut Observed<'de>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ValueSeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(ValueDe {
            de: deserializer,
            claim: self.claim,
            observed: self.observed,
        })
    }
}

struct ValueDe<'o, 'de, D> {
    de: D,
    claim: Claim,
    observed: &'o mut Observed<'de>,
}

macro_rules! value_forward {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.de.$method(ValueVisitor {
                    inner: visitor,
                    claim: self.claim,
                    observed: self.observed,
                })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ValueDe<'_, 'de, D> {
    type Error = D::Error;

    value_forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // `C` skips this claim, but the layer must still see it.
        self.de.deserialize_any(ValueVisitor {
            inner: visitor,
            claim: self.claim,
            observed: self.observed,
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_enum(name, variants, visitor)
    }
}

impl<'o, 'de, D> ValueDe<'o, 'de, D> {
    /// The inner deserializer and the watching visitor, for the methods with extra arguments.
    fn split<V>(self, inner: V) -> (D, ValueVisitor<'o, 'de, V>) {
        (
            self.de,
            ValueVisitor {
                inner,
                claim: self.claim,
                observed: self.observed,
            },
        )
    }
}

struct ValueVisitor<'o, 'de, V> {
    inner: V,
    claim: Claim,
    observed: &'o mut Observed<'de>,
}

impl<'de, V> ValueVisitor<'_, 'de, V> {
    fn number(&mut self, value: f64) {
        let valid = value.is_finite() && value >= 0.0;
        let registered = &mut self.observed.registered;
        match self.claim {
            Claim::Exp if valid => registered.exp = Some(value),
            Claim::Nbf if valid => registered.nbf = Some(value),
            Claim::Iat if valid => registered.iat = Some(value),
            // Not read unless a string (see `Claim::Sid`).
            Claim::Sid => {}
            _ => self.observed.invalid = true,
        }
    }

    fn string(&mut self, value: Cow<'de, str>) {
        let registered = &mut self.observed.registered;
        match self.claim {
            Claim::Iss => registered.iss = Some(value),
            Claim::Sub => registered.sub = Some(value),
            Claim::Aud => registered.aud = Some(OneOrMany::One(value)),
            Claim::Jti => registered.jti = Some(value),
            Claim::Sid => registered.sid = Some(value),
            Claim::ClientId => {}
            Claim::Scope => self.observed.scope = Some(value),
            Claim::Scp => self.observed.scp = Some(OneOrMany::One(value)),
            _ => self.observed.invalid = true,
        }
    }

    fn wrong_type(&mut self) {
        // `sid` of another type is not read (see `Claim::Sid`), nor refused here.
        if self.claim != Claim::Sid {
            self.observed.invalid = true;
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ValueVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<V::Value, E> {
        self.number(v as f64);
        self.inner.visit_u64(v)
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<V::Value, E> {
        self.number(v as f64);
        self.inner.visit_i64(v)
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<V::Value, E> {
        self.number(v);
        self.inner.visit_f64(v)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.string(Cow::Borrowed(v));
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        self.string(Cow::Owned(v.to_owned()));
        self.inner.visit_str(v)
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<V::Value, E> {
        self.string(Cow::Owned(v.clone()));
        self.inner.visit_string(v)
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<V::Value, E> {
        self.wrong_type();
        self.inner.visit_bool(v)
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<V::Value, E> {
        self.wrong_type();
        self.inner.visit_unit()
    }

    fn visit_none<E: de::Error>(mut self) -> Result<V::Value, E> {
        self.wrong_type();
        self.inner.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(ValueDe {
            de: deserializer,
            claim: self.claim,
            observed: self.observed,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(ValueDe {
            de: deserializer,
            claim: self.claim,
            observed: self.observed,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, seq: A) -> Result<V::Value, A::Error> {
        match self.claim {
            Claim::Aud | Claim::Scp => {
                let mut items = Vec::new();
                let mut invalid = false;
                let value = self.inner.visit_seq(TapSeq {
                    seq,
                    items: &mut items,
                    invalid: &mut invalid,
                })?;
                if invalid {
                    self.observed.invalid = true;
                } else if self.claim == Claim::Aud {
                    self.observed.registered.aud = Some(OneOrMany::Many(items));
                } else {
                    self.observed.scp = Some(OneOrMany::Many(items));
                }
                Ok(value)
            }
            _ => {
                self.wrong_type();
                self.inner.visit_seq(seq)
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<V::Value, A::Error> {
        self.wrong_type();
        self.inner.visit_map(map)
    }
}

// ---------------------------------------------------------------------------------------------
// The members on the paths that grant roles: objects are walked down the path, and at its end a
// string (split at spaces) or an array of strings grants. Any other value grants nothing, and is
// never an error: it goes to `C` untouched.

struct GrantSeed<'g, 'de, S> {
    inner: S,
    node: &'de Node,
    granted: &'g mut Roles,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for GrantSeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(GrantDe {
            de: deserializer,
            node: self.node,
            granted: self.granted,
        })
    }
}

struct GrantDe<'g, 'de, D> {
    de: D,
    node: &'de Node,
    granted: &'g mut Roles,
}

impl<'g, 'de, D> GrantDe<'g, 'de, D> {
    fn split<V>(self, inner: V) -> (D, GrantVisitor<'g, 'de, V>) {
        (
            self.de,
            GrantVisitor {
                inner,
                node: self.node,
                granted: self.granted,
            },
        )
    }
}

macro_rules! grant_forward {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                let (de, visitor) = self.split(visitor);
                de.$method(visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for GrantDe<'_, 'de, D> {
    type Error = D::Error;

    grant_forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // `C` skips this member, but the roles in it still count.
        let (de, visitor) = self.split(visitor);
        de.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.split(visitor);
        de.deserialize_enum(name, variants, visitor)
    }
}

struct GrantVisitor<'g, 'de, V> {
    inner: V,
    node: &'de Node,
    granted: &'g mut Roles,
}

impl<'de, V> GrantVisitor<'_, 'de, V> {
    fn grant(&mut self, value: &str) {
        if self.node.grants {
            for role in value.split(' ') {
                self.granted.add(role);
            }
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for GrantVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.grant(v);
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        self.grant(v);
        self.inner.visit_str(v)
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<V::Value, E> {
        self.grant(&v);
        self.inner.visit_string(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if !self.node.grants {
            return self.inner.visit_seq(seq);
        }
        let mark = self.granted.mark();
        let mut invalid = false;
        let value = self.inner.visit_seq(TapSeq {
            seq,
            items: &mut *self.granted,
            invalid: &mut invalid,
        })?;
        // A list with anything but strings in it grants nothing.
        if invalid {
            self.granted.reset(mark);
        }
        Ok(value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        if self.node.children.is_empty() {
            return self.inner.visit_map(map);
        }
        self.inner.visit_map(GrantMap {
            map,
            node: self.node,
            granted: self.granted,
            current: None,
        })
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(GrantDe {
            de: deserializer,
            node: self.node,
            granted: self.granted,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(GrantDe {
            de: deserializer,
            node: self.node,
            granted: self.granted,
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.inner.visit_u64(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.inner.visit_i64(v)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<V::Value, E> {
        self.inner.visit_u128(v)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<V::Value, E> {
        self.inner.visit_i128(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.inner.visit_f64(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.inner.visit_bool(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        self.inner.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        self.inner.visit_borrowed_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<V::Value, E> {
        self.inner.visit_byte_buf(v)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// The members of an object on a path: the names below the path's current one are watched.
struct GrantMap<'g, 'de, A> {
    map: A,
    node: &'de Node,
    granted: &'g mut Roles,
    current: Option<&'de Node>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for GrantMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut name = None;
        let key = self.map.next_key_seed(KeySeed {
            inner: seed,
            name: &mut name,
        })?;
        self.current = name.and_then(|name| self.node.child(&name));
        Ok(key)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match self.current.take() {
            None => self.map.next_value_seed(seed),
            Some(node) => self.map.next_value_seed(GrantSeed {
                inner: seed,
                node,
                granted: &mut *self.granted,
            }),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

// ---------------------------------------------------------------------------------------------
// The items of `aud` and `scp` arrays: strings only.

/// Where the string items of an array go.
trait Items<'de> {
    fn push(&mut self, item: Cow<'de, str>);
}

impl<'de> Items<'de> for Vec<Cow<'de, str>> {
    fn push(&mut self, item: Cow<'de, str>) {
        Vec::push(self, item);
    }
}

impl<'de> Items<'de> for Roles {
    fn push(&mut self, item: Cow<'de, str>) {
        self.add(&item);
    }
}

struct TapSeq<'i, A, I> {
    seq: A,
    items: &'i mut I,
    invalid: &'i mut bool,
}

impl<'de, A: SeqAccess<'de>, I: Items<'de>> SeqAccess<'de> for TapSeq<'_, A, I> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let mut item = None;
        let value = self.seq.next_element_seed(ItemSeed {
            inner: seed,
            item: &mut item,
        })?;
        if value.is_some() {
            match item {
                Some(item) => self.items.push(item),
                None => *self.invalid = true,
            }
        }
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct ItemSeed<'i, 'de, T> {
    inner: T,
    item: &'i mut Option<Cow<'de, str>>,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for ItemSeed<'_, 'de, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        self.inner.deserialize(ItemDe {
            de: deserializer,
            item: self.item,
        })
    }
}

struct ItemDe<'i, 'de, D> {
    de: D,
    item: &'i mut Option<Cow<'de, str>>,
}

macro_rules! item_forward {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.de.$method(ItemVisitor { inner: visitor, item: self.item })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ItemDe<'_, 'de, D> {
    type Error = D::Error;

    item_forward! {
        deserialize_any deserialize_str deserialize_string deserialize_identifier
        deserialize_bool deserialize_i64 deserialize_u64 deserialize_f64 deserialize_option
        deserialize_seq deserialize_map deserialize_unit
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(ItemVisitor {
            inner: visitor,
            item: self.item,
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        // As serde_json does: the newtype's visitor reads the value inside.
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        // A string item read as a unit variant (`enum Role { Staff }`): the variant's name is
        // the string.
        self.de.deserialize_enum(
            name,
            variants,
            EnumItemVisitor {
                inner: visitor,
                item: self.item,
            },
        )
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 char
        bytes byte_buf unit_struct tuple
        tuple_struct struct
    }
}

/// Watches an item that `C` reads as an enum: a string is a unit variant, whose name is the
/// string; any other form (an object) is not a string, and leaves the item unset.
struct EnumItemVisitor<'i, 'de, V> {
    inner: V,
    item: &'i mut Option<Cow<'de, str>>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for EnumItemVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(EnumItemAccess {
            data,
            item: self.item,
        })
    }
}

struct EnumItemAccess<'i, 'de, A> {
    data: A,
    item: &'i mut Option<Cow<'de, str>>,
}

impl<'i, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for EnumItemAccess<'i, 'de, A> {
    type Error = A::Error;
    type Variant = EnumItemVariant<'i, 'de, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let mut name = None;
        let (value, variant) = self.data.variant_seed(KeySeed {
            inner: seed,
            name: &mut name,
        })?;
        *self.item = name;
        Ok((
            value,
            EnumItemVariant {
                variant,
                item: self.item,
            },
        ))
    }
}

/// The variant's content: only a unit variant keeps the item (serde_json reads a string as
/// one; an object `{"Name": …}` as any form, and is not a string).
struct EnumItemVariant<'i, 'de, A> {
    variant: A,
    item: &'i mut Option<Cow<'de, str>>,
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for EnumItemVariant<'_, 'de, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        *self.item = None;
        self.variant.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        *self.item = None;
        self.variant.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        *self.item = None;
        self.variant.struct_variant(fields, visitor)
    }
}

/// Records a string item; anything else leaves the item unset (a wrong type) and goes on to `C`.
struct ItemVisitor<'i, 'de, V> {
    inner: V,
    item: &'i mut Option<Cow<'de, str>>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for ItemVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        *self.item = Some(Cow::Borrowed(v));
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        *self.item = Some(Cow::Owned(v.to_owned()));
        self.inner.visit_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        *self.item = Some(Cow::Owned(v.clone()));
        self.inner.visit_string(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        self.inner.visit_u64(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        self.inner.visit_i64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<V::Value, E> {
        self.inner.visit_f64(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        self.inner.visit_bool(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Typed {
        sub: String,
        exp: u64,
        #[serde(default)]
        aud: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Ignoring {
        name: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Flattened {
        sub: String,
        #[serde(flatten)]
        rest: HashMap<String, serde_json::Value>,
    }

    const PAYLOADS: &[&str] = &[
        r#"{"sub":"a","exp":100}"#,
        r#"{"sub":"a","exp":100,"aud":"api","iss":"https://i","nbf":5,"iat":6.5}"#,
        r#"{"sub":"a","exp":100,"aud":["x","api"],"scp":["read","write"],"scope":"a b"}"#,
        r#"{"sub":"a\u0062","exp":100,"iss":"esc\"aped","jti":"j","client_id":"c"}"#,
        r#"{"sub":"a","exp":"100"}"#,
        r#"{"sub":"a","exp":100,"exp":200}"#,
        r#"{"sub":"a","exp":100,"role":"u","role":"admin"}"#,
        r#"{"sub":"a","exp":-5}"#,
        r#"{"sub":"a","exp":100,"aud":["api",5]}"#,
        r#"{"sub":"a","exp":100,"aud":5}"#,
        r#"{"sub":"a","exp":100,"iss":null}"#,
        r#"{"sub":"a","exp":100,"nested":{"exp":"x","aud":[1]}}"#,
        r#"{"sub":"a","exp":1e300,"name":"n"}"#,
        r#"{"sub":5,"exp":100}"#,
        r#"{"sub":"a","exp":100,"scope":["x"]}"#,
        r#"[1,2]"#,
        r#"null"#,
        r#"{"sub":"a","exp":100} x"#,
    ];

    fn standalone(json: &str) -> Option<Registered<'_>> {
        serde_json::from_str::<Registered<'_>>(json).ok()
    }

    fn same(a: &Registered<'_>, b: &Registered<'_>) -> bool {
        fn aud(r: &Registered<'_>) -> Option<Vec<String>> {
            r.aud
                .as_ref()
                .map(|a| a.as_slice().iter().map(|s| s.to_string()).collect())
        }
        a.exp == b.exp
            && a.nbf == b.nbf
            && a.iat == b.iat
            && a.iss == b.iss
            && a.sub == b.sub
            && aud(a) == aud(b)
    }

    fn check<C: for<'de> Deserialize<'de> + PartialEq + fmt::Debug>() {
        for json in PAYLOADS {
            let expected_claims = serde_json::from_str::<C>(json).ok();
            let expected = standalone(json);
            let mut observed = Observed::default();
            match parse::<C>(json, &mut observed) {
                Ok(claims) => {
                    assert_eq!(Some(&claims), expected_claims.as_ref(), "{json}");
                    let accepted = observed.saw_object && !observed.invalid;
                    assert_eq!(accepted, expected.is_some(), "{json}");
                    if let Some(expected) = expected {
                        assert!(same(&observed.registered, &expected), "{json}");
                    }
                }
                // The tap refuses whatever the plain parse of `C` refuses, and duplicates.
                Err(_) => assert!(expected_claims.is_none() || expected.is_none(), "{json}"),
            }
        }
    }

    #[test]
    fn the_watch_agrees_with_separate_parses() {
        check::<serde_json::Value>();
        check::<Typed>();
        check::<Ignoring>();
        check::<Flattened>();
    }

    #[test]
    fn registered_claims_are_seen_even_when_the_type_skips_them() {
        let json = r#"{"exp":100,"iss":"i","aud":["a","b"],"scp":"x y","name":"n"}"#;
        let mut observed = Observed::default();
        let claims = parse::<Ignoring>(json, &mut observed).unwrap();
        assert_eq!(claims.name.as_deref(), Some("n"));
        assert_eq!(observed.registered.exp, Some(100.0));
        assert_eq!(observed.registered.iss.as_deref(), Some("i"));
        assert_eq!(observed.registered.aud.unwrap().as_slice(), ["a", "b"]);
        assert!(matches!(observed.scp, Some(OneOrMany::One(ref s)) if s == "x y"));
        assert!(observed.registered.names.contains("name"));
        assert!(!observed.invalid);
    }

    #[test]
    fn registered_names_are_recorded_and_repeats_refused() {
        let mut observed = Observed::default();
        let json = r#"{"aud":"a","jti":"j","role":"r"}"#;
        parse::<serde_json::Value>(json, &mut observed).unwrap();
        let registered = &observed.registered;
        assert!(registered.has("aud") && registered.has("jti") && registered.has("role"));
        assert!(!registered.has("exp") && !registered.has("scope") && !registered.has("rol"));
        for json in [
            r#"{"exp":1,"exp":2}"#,
            r#"{"exp":1,"\u0065xp":2}"#,
            r#"{"client_id":"a","client_id":"a"}"#,
            r#"{"scope":"a","x":1,"scope":"a"}"#,
        ] {
            let mut observed = Observed::default();
            assert!(
                parse::<serde_json::Value>(json, &mut observed).is_err(),
                "{json}"
            );
            assert!(
                serde_json::from_str::<Registered<'_>>(json).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn wrong_types_and_duplicates_are_flagged() {
        let mut observed = Observed::default();
        parse::<serde_json::Value>(r#"{"exp":"1"}"#, &mut observed).unwrap();
        assert!(observed.invalid);
        let mut observed = Observed::default();
        parse::<serde_json::Value>(r#"{"aud":["a",1]}"#, &mut observed).unwrap();
        assert!(observed.invalid);
        let mut observed = Observed::default();
        assert!(parse::<serde_json::Value>(r#"{"a":1,"a":2}"#, &mut observed).is_err());
        let mut observed = Observed::default();
        assert!(parse::<serde_json::Value>("[]", &mut observed).is_err());
        assert!(!observed.saw_object);
    }

    /// The roles granted at `paths` in `json`, read while `C` deserializes.
    fn granted<C: for<'de> Deserialize<'de>>(paths: &[&str], json: &str) -> Option<Vec<String>> {
        let paths: Vec<crate::ClaimPath> = paths.iter().map(|p| (*p).into()).collect();
        let paths = GrantPaths::new(&paths).unwrap();
        let mut observed = Observed {
            paths: Some(&paths),
            ..Observed::default()
        };
        parse::<C>(json, &mut observed).ok()?;
        assert!(!observed.invalid, "{json}");
        Some(observed.granted.iter().map(|s| s.to_string()).collect())
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Keycloak {
        sub: String,
        realm_access: RealmAccess,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct RealmAccess {
        roles: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "lowercase")]
    enum Role {
        Staff,
        Admin,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Typed2 {
        realm_access: TypedRoles,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct TypedRoles {
        roles: Vec<Role>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct RoleName(String);

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Newtypes {
        groups: Vec<RoleName>,
    }

    #[test]
    fn roles_are_read_whatever_the_claims_type_makes_of_them() {
        let json = r#"{"sub":"a","realm_access":{"other":[1],"roles":["staff","re\"ader"]},"x":1}"#;
        let expected = ["staff", "re\"ader"].map(String::from).to_vec();
        let path = &["realm_access.roles"];
        assert_eq!(
            granted::<serde_json::Value>(path, json),
            Some(expected.clone())
        );
        assert_eq!(granted::<Ignoring>(path, json), Some(expected.clone()));
        assert_eq!(granted::<Flattened>(path, json), Some(expected.clone()));
        assert_eq!(granted::<Keycloak>(path, json), Some(expected));
        // Typed roles: unit variants and newtypes of strings.
        let json = r#"{"realm_access":{"roles":["staff","admin"]}}"#;
        assert_eq!(
            granted::<Typed2>(path, json),
            Some(vec!["staff".into(), "admin".into()])
        );
        let json = r#"{"groups":["a","b"]}"#;
        assert_eq!(
            granted::<Newtypes>(&["groups"], json),
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn strings_are_split_at_spaces_and_paths_add_up() {
        let json = r#"{"cognito:groups":"a  b","resource_access":{"my-api":{"roles":["c"]},"other":{"roles":["d"]}},"https://example.com/roles":["e"]}"#;
        let paths: Vec<crate::ClaimPath> = vec![
            "cognito:groups".into(),
            "resource_access.my-api.roles".into(),
            crate::ClaimPath::from_segments(["https://example.com/roles"]),
        ];
        let paths = GrantPaths::new(&paths).unwrap();
        let mut observed = Observed {
            paths: Some(&paths),
            ..Observed::default()
        };
        parse::<Ignoring>(json, &mut observed).unwrap();
        assert_eq!(
            observed.granted.iter().collect::<Vec<_>>(),
            ["a", "b", "c", "e"]
        );
    }

    #[test]
    fn other_types_grant_nothing_and_never_fail_the_token() {
        let path = &["realm_access.roles"];
        for json in [
            r#"{"sub":"a"}"#,
            r#"{"realm_access":null}"#,
            r#"{"realm_access":5}"#,
            r#"{"realm_access":"staff"}"#,
            r#"{"realm_access":["staff"]}"#,
            r#"{"realm_access":{"roles":5}}"#,
            r#"{"realm_access":{"roles":{"staff":true}}}"#,
            r#"{"realm_access":{"roles":["staff",1]}}"#,
            r#"{"realm_access":{"roles":[["staff"]]}}"#,
            r#"{"realm_access":{"roles":[null]}}"#,
            r#"{"realm_access":{"roles":true}}"#,
            r#"{"realm_access":{"roles":null}}"#,
            r#"{"realm_access":{"roles":[]}}"#,
            r#"{"realm_access":{"roles":""}}"#,
            r#"{"realm_access":{"role":["staff"]}}"#,
        ] {
            assert_eq!(
                granted::<serde_json::Value>(path, json),
                Some(vec![]),
                "{json}"
            );
            assert_eq!(granted::<Ignoring>(path, json), Some(vec![]), "{json}");
        }
        // No paths: nothing is watched.
        let mut observed = Observed::default();
        parse::<Ignoring>(r#"{"roles":["a"]}"#, &mut observed).unwrap();
        assert!(observed.granted.is_empty());
    }

    #[test]
    fn the_claims_parse_is_unchanged_by_the_watch() {
        let paths: Vec<crate::ClaimPath> = vec!["realm_access.roles".into(), "groups".into()];
        let paths = GrantPaths::new(&paths).unwrap();
        for json in PAYLOADS.iter().chain(&[
            r#"{"sub":"a","exp":1,"groups":["x"],"realm_access":{"roles":"y"}}"#,
            r#"{"sub":"a","exp":1,"groups":5,"realm_access":[1]}"#,
            r#"{"sub":"a","exp":1,"groups":["x"],"groups":["y"]}"#,
        ]) {
            let mut plain = Observed::default();
            let mut watched = Observed {
                paths: Some(&paths),
                ..Observed::default()
            };
            let a = parse::<serde_json::Value>(json, &mut plain).ok();
            let b = parse::<serde_json::Value>(json, &mut watched).ok();
            assert_eq!(a, b, "{json}");
            assert_eq!(plain.invalid, watched.invalid, "{json}");
        }
    }
}
