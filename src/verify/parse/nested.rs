//! Duplicate member names below the top level: RFC 7519 §4 and RFC 8259 §4 leave an object with
//! a repeated name open to readers that disagree (the first or the last wins), so the layer
//! refuses it at every depth. The top-level object's names are watched by the parse itself;
//! this pass walks the nested objects and arrays, without building anything, and runs only
//! when the claims set has a nested object at all.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::verify::claims::{Names, Str};

/// Whether the claims set `json` (an object, as the parse requires) may hold a nested object:
/// a `{` after its first one. A string holding `{` gives a needless walk, never a missed one.
fn may_nest(json: &str) -> bool {
    json.split_once('{')
        .is_some_and(|(_, rest)| rest.contains('{'))
}

/// `Ok(())` when no object below the top level of `json` repeats a member name; `Err` when one
/// does, or when `json` is not JSON (the parse refuses it then anyway).
pub(crate) fn check_nested_names(json: &str) -> Result<(), serde_json::Error> {
    if !may_nest(json) {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_str(json);
    Walk { check: false }.deserialize_top(&mut de)?;
    de.end()
}

/// A walk of one value; `check`: its object's names are checked (every object but the top
/// level one).
#[derive(Clone, Copy)]
struct Walk {
    check: bool,
}

impl Walk {
    fn deserialize_top<'de, D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

/// A nested value: walked with its names checked.
struct Nested;

impl<'de> Deserialize<'de> for Nested {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(Walk { check: true })?;
        Ok(Nested)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names = Names::default();
        while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
            if self.check && names.insert(name).is_err() {
                return Err(de::Error::custom("a nested object repeats a name"));
            }
            map.next_value::<Nested>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Nested>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_duplicates_are_found_at_every_depth() {
        for json in [
            r#"{"realm_access":{"roles":["staff"],"roles":[]}}"#,
            r#"{"resource_access":{"my-api":{"roles":["staff"]},"my-api":{}}}"#,
            r#"{"a":[{"b":1,"b":2}]}"#,
            r#"{"a":{"b":{"c":{"d":1,"d":1}}}}"#,
            r#"{"a":{"b\u0062":1,"bb":2}}"#,
            r#"{"a":[[{"x":1}],[{"y":1,"y":2}]]}"#,
        ] {
            assert!(check_nested_names(json).is_err(), "{json}");
        }
        for json in [
            r#"{"realm_access":{"roles":["staff"]},"resource_access":{"roles":[]}}"#,
            r#"{"a":{"b":1},"c":{"b":1}}"#,
            r#"{"a":[{"b":1},{"b":2}]}"#,
            r#"{"s":"{{ not an object }}","n":1}"#,
            r#"{"flat":1,"flat2":2}"#,
            // The top level is the parse's own business.
            r#"{"a":1,"a":2}"#,
        ] {
            assert!(check_nested_names(json).is_ok(), "{json}");
        }
    }
}
