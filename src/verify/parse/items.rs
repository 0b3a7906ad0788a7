//! The items of the arrays the parse watches (`aud`, `scp`, and the lists that grant roles):
//! strings only; an item of any other type marks the array as not a list of strings.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::names::KeySeed;
use crate::verify::roles::Roles;

/// Where the string items of an array go.
pub(super) trait Items<'de> {
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

/// The items of an array whose strings are recorded into `items`; `invalid` is set when an
/// item is not a string.
pub(super) struct TapSeq<'i, A, I> {
    pub(super) seq: A,
    pub(super) items: &'i mut I,
    pub(super) invalid: &'i mut bool,
}

impl<'de, A: SeqAccess<'de>, I: Items<'de>> SeqAccess<'de> for TapSeq<'_, A, I> {
    type Error = A::Error;

    #[inline]
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
