//! One parse of the claims set that yields both the user's claims type and the registered claims
//! the layer judges.
//!
//! The user's `C` is deserialized from serde_json through a thin wrapper that watches the
//! top-level object: it records every member name (to refuse duplicates, RFC 7519 §4) and, for
//! the registered claims only, the values `C` reads or skips (`exp`, `nbf`, `iat` as numbers;
//! `iss`, `sub`, `jti`, `client_id`, `scope` as strings, `sid` when it is one; `aud` and `scp` as a string or an array
//! of strings). Every other member goes straight to `C`'s own visitor. A registered claim of the
//! wrong type is recorded as such, whatever `C` makes of it.
//!
//! This file watches the top-level object and the registered claims; the files below it watch
//! the member names (`names`), the items of arrays (`items`) and the members on the paths that
//! grant roles (`role_walk`).

mod items;
mod names;
mod nested;
mod role_walk;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

pub(crate) use self::nested::check_nested_names;

use self::items::TapSeq;
use self::names::KeySeed;
use self::role_walk::RoleSeed;
use crate::verify::claims::{classify, Claim, OneOrMany, Registered};
use crate::verify::roles::{Node, RolePaths, Roles};

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
    pub(crate) paths: Option<&'de RolePaths>,
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
                Some(node) => self.map.next_value_seed(RoleSeed {
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

#[cfg(test)]
mod tests;
