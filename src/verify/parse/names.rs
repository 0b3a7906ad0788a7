//! The member names of the objects the parse watches, recorded as `C` reads (or skips) them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// A member name (or an enum variant's name) that `C` reads or skips, recorded into `name` when
/// it is a string.
pub(super) struct KeySeed<'n, 'de, K> {
    pub(super) inner: K,
    pub(super) name: &'n mut Option<Cow<'de, str>>,
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
