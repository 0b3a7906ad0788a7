//! The walk of the members on the paths that grant roles ([`RolePaths`]): objects are walked
//! down the path, and at its end a string (split at spaces) or an array of strings grants. Any
//! other value grants nothing, and is never an error: it goes to `C` untouched.
//!
//! [`RolePaths`]: crate::verify::roles::RolePaths

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::items::TapSeq;
use super::names::KeySeed;
use crate::verify::roles::{Node, Roles};

/// The value of a member on a path that grants roles, from the top-level object's member on.
pub(super) struct RoleSeed<'g, 'de, S> {
    pub(super) inner: S,
    pub(super) node: &'de Node,
    pub(super) granted: &'g mut Roles,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for RoleSeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(RoleDe {
            de: deserializer,
            node: self.node,
            granted: self.granted,
        })
    }
}

struct RoleDe<'g, 'de, D> {
    de: D,
    node: &'de Node,
    granted: &'g mut Roles,
}

impl<'g, 'de, D> RoleDe<'g, 'de, D> {
    fn split<V>(self, inner: V) -> (D, RoleVisitor<'g, 'de, V>) {
        (
            self.de,
            RoleVisitor {
                inner,
                node: self.node,
                granted: self.granted,
            },
        )
    }
}

macro_rules! role_forward {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                let (de, visitor) = self.split(visitor);
                de.$method(visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for RoleDe<'_, 'de, D> {
    type Error = D::Error;

    role_forward! {
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

struct RoleVisitor<'g, 'de, V> {
    inner: V,
    node: &'de Node,
    granted: &'g mut Roles,
}

impl<'de, V> RoleVisitor<'_, 'de, V> {
    fn grant(&mut self, value: &str) {
        if self.node.grants {
            for role in value.split(' ') {
                self.granted.add(role);
            }
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for RoleVisitor<'_, 'de, V> {
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
        self.inner.visit_map(RoleMap {
            map,
            node: self.node,
            granted: self.granted,
            current: None,
        })
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(RoleDe {
            de: deserializer,
            node: self.node,
            granted: self.granted,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(RoleDe {
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
struct RoleMap<'g, 'de, A> {
    map: A,
    node: &'de Node,
    granted: &'g mut Roles,
    current: Option<&'de Node>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RoleMap<'_, 'de, A> {
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
            Some(node) => self.map.next_value_seed(RoleSeed {
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
