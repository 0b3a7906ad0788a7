//! [`Scopes`], the scopes a verified token grants (its `scope` and `scp` claims), and
//! [`RequiredScopes`], the scopes a route requires.

use std::fmt;
use std::sync::Arc;

use crate::error::{AuthError, ConfigError};

/// The scopes a verified token grants: the space-separated `scope` claim (RFC 9068 §2.2.3,
/// RFC 8693 §4.2) and the `scp` claim (a string or an array of strings), together.
///
/// [`JwtAuth`](crate::JwtAuth) puts a `Scopes` into the request extensions next to the claims
/// for every verified token, so its presence also tells that the request is authenticated.
/// Matching is per whole scope and case-sensitive: `readadmin` does not grant `admin`.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::Scopes;
///
/// let scopes = Scopes::from_space_separated("read write");
/// assert!(scopes.contains("write"));
/// assert!(!scopes.contains("writ"));
/// assert_eq!(scopes.iter().collect::<Vec<_>>(), ["read", "write"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    joined: Joined,
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Scopes")
            .field(&self.joined.as_str())
            .finish()
    }
}

/// The space-joined scopes: short lists (the usual case) need no allocation.
#[derive(Clone)]
enum Joined {
    Inline { len: u8, bytes: [u8; INLINE_SCOPES] },
    Heap(String),
}

const INLINE_SCOPES: usize = 46;

impl Default for Joined {
    fn default() -> Self {
        Joined::Inline {
            len: 0,
            bytes: [0; INLINE_SCOPES],
        }
    }
}

impl PartialEq for Joined {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Joined {}

impl Joined {
    fn as_str(&self) -> &str {
        match self {
            // Only whole `&str`s are ever copied in, so the bytes are UTF-8.
            Joined::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Joined::Heap(s) => s,
        }
    }

    fn is_empty(&self) -> bool {
        self.as_str().is_empty()
    }

    fn push_str(&mut self, more: &str) {
        match self {
            Joined::Inline { len, bytes } => {
                let start = usize::from(*len);
                let end = start + more.len();
                match bytes.get_mut(start..end) {
                    Some(slot) if end <= usize::from(u8::MAX) => {
                        slot.copy_from_slice(more.as_bytes());
                        *len = end as u8;
                    }
                    _ => {
                        let mut heap = String::with_capacity(end);
                        heap.push_str(self.as_str());
                        heap.push_str(more);
                        *self = Joined::Heap(heap);
                    }
                }
            }
            Joined::Heap(s) => s.push_str(more),
        }
    }

    fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(is_scope_char)
}

/// A character of a scope-token (RFC 6749 §3.3).
fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)
}

/// `scopes` kept whole when it is scope-tokens separated by single spaces, without a space at
/// either end (the form [`Scopes`] keeps): checked and copied in one pass. `None` otherwise.
fn plain_scope_list(scopes: &str) -> Option<Joined> {
    let source = scopes.as_bytes();
    let mut inline = [0u8; INLINE_SCOPES];
    let mut previous = b' ';
    for (at, &b) in source.iter().enumerate() {
        let ok = if b == b' ' {
            previous != b' '
        } else {
            is_scope_char(b)
        };
        if !ok {
            return None;
        }
        if let Some(slot) = inline.get_mut(at) {
            *slot = b;
        }
        previous = b;
    }
    if previous == b' ' && !source.is_empty() {
        return None;
    }
    Some(match u8::try_from(source.len()) {
        Ok(len) if source.len() <= INLINE_SCOPES => Joined::Inline { len, bytes: inline },
        _ => Joined::Heap(scopes.to_owned()),
    })
}

impl Scopes {
    /// Scopes from a space-separated list; empty items from repeated spaces are skipped.
    pub fn from_space_separated(scopes: &str) -> Self {
        let mut joined = Joined::default();
        for scope in scopes.split(' ').filter(|s| !s.is_empty()) {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(scope);
        }
        Self { joined }
    }

    pub(crate) fn from_claims<S: AsRef<str>>(
        scope: Option<&str>,
        scp: Option<&[S]>,
    ) -> Result<Self, &'static str> {
        let mut scopes = match scope {
            // The usual `scope`: scope-tokens separated by single spaces, kept as it is.
            Some(scope) => match plain_scope_list(scope) {
                Some(joined) => Self { joined },
                None => {
                    let scopes = Self::from_space_separated(scope);
                    if !scopes.iter().all(is_scope_token) {
                        return Err("invalid scope");
                    }
                    scopes
                }
            },
            None => Self::default(),
        };
        for item in scp.unwrap_or_default() {
            // `scp` is an array in some providers and a space-separated string in others.
            for scope in item.as_ref().split(' ').filter(|s| !s.is_empty()) {
                if !is_scope_token(scope) {
                    return Err("invalid scope");
                }
                if !scopes.contains(scope) {
                    if !scopes.joined.is_empty() {
                        scopes.joined.push(' ');
                    }
                    scopes.joined.push_str(scope);
                }
            }
        }
        Ok(scopes)
    }

    /// `true` when `scope` is granted, compared whole and case-sensitively.
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s == scope)
    }

    /// `true` when every scope in `required` is granted.
    pub fn contains_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|scope| self.contains(scope))
    }

    /// The granted scopes, in token order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined.as_str().split(' ').filter(|s| !s.is_empty())
    }

    /// `true` when no scope is granted.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.joined.as_str())
    }
}

/// A set of scopes a route requires, all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequiredScopes {
    scopes: Arc<[Box<str>]>,
    joined: Arc<str>,
}

impl RequiredScopes {
    pub(crate) fn new<I, S>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all: Vec<Box<str>> = Vec::new();
        for scope in scopes {
            let scope = scope.into();
            if !is_scope_token(&scope) {
                return Err(ConfigError::InvalidScope { scope });
            }
            if !all.iter().any(|s| **s == *scope) {
                all.push(scope.into_boxed_str());
            }
        }
        let joined = all.join(" ");
        Ok(Self {
            scopes: all.into(),
            joined: Arc::from(joined),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Checks the scopes of a verified request; `None` means no token was verified.
    pub(crate) fn check(&self, granted: Option<&Scopes>) -> Result<(), AuthError> {
        match granted {
            None => Err(AuthError::missing()),
            Some(granted) if granted.contains_all(self.scopes.iter().map(|s| &**s)) => Ok(()),
            Some(_) => Err(AuthError::insufficient_scope(self.joined.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_match_whole_words_only() {
        let scopes = Scopes::from_claims::<&str>(Some("read  readadmin"), None).unwrap();
        assert!(scopes.contains("read"));
        assert!(scopes.contains("readadmin"));
        assert!(!scopes.contains("admin"));
        assert!(!scopes.contains("READ"));
        assert!(!scopes.contains(""));
    }

    #[test]
    fn long_scope_lists_spill_to_the_heap_and_stay_equal() {
        let long: Vec<String> = (0..20).map(|i| format!("scope-number-{i}")).collect();
        let joined = long.join(" ");
        let scopes = Scopes::from_space_separated(&joined);
        assert_eq!(scopes.iter().count(), 20);
        assert!(scopes.contains("scope-number-19"));
        assert_eq!(scopes.to_string(), joined);
        let merged = Scopes::from_claims(Some(&long[..10].join(" ")), Some(&long[10..])).unwrap();
        assert_eq!(merged, scopes);
        assert_ne!(merged, Scopes::from_space_separated("a"));
    }

    #[test]
    fn scope_and_scp_are_merged() {
        let scopes = Scopes::from_claims(Some("a"), Some(&["b", "a", "c d"][..])).unwrap();
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert!(Scopes::from_claims::<&str>(Some("a\"b"), None).is_err());
        assert!(Scopes::from_claims(None, Some(&["x\\y"][..])).is_err());
    }

    #[test]
    fn a_plain_scope_list_is_kept_whole_and_anything_else_is_normalised() {
        for (scope, plain) in [
            ("read write", true),
            ("", true),
            ("a!#[]~", true),
            (" read", false),
            ("read ", false),
            ("read  write", false),
            ("read\twrite", false),
            ("read \"write\"", false),
            ("caf\u{e9}", false),
        ] {
            assert_eq!(plain_scope_list(scope).is_some(), plain, "{scope:?}");
            // Both ways give the same scopes, or the same refusal.
            let normalised = Some(Scopes::from_space_separated(scope))
                .filter(|scopes| scopes.iter().all(is_scope_token));
            assert_eq!(
                Scopes::from_claims::<&str>(Some(scope), None).ok(),
                normalised,
                "{scope:?}"
            );
        }
        // Long plain lists are kept whole too, on the heap.
        let long = (0..30)
            .map(|i| format!("scope-{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let scopes = Scopes::from_claims::<&str>(Some(&long), None).unwrap();
        assert!(matches!(scopes.joined, Joined::Heap(_)));
        assert_eq!(scopes, Scopes::from_space_separated(&long));
        assert_eq!(scopes.iter().count(), 30);
        let exactly_inline = "a".repeat(INLINE_SCOPES);
        let scopes = Scopes::from_claims::<&str>(Some(&exactly_inline), None).unwrap();
        assert!(matches!(scopes.joined, Joined::Inline { .. }));
        assert_eq!(scopes.to_string(), exactly_inline);
        let scopes = Scopes::from_claims::<&str>(Some("read write"), None).unwrap();
        assert_eq!(scopes.to_string(), "read write");
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["read", "write"]);
    }

    #[test]
    fn required_scopes_are_checked() {
        let required = RequiredScopes::new(["admin", "write"]).unwrap();
        assert_eq!(
            required.check(None).unwrap_err().kind(),
            crate::ErrorKind::Missing
        );
        let err = required
            .check(Some(&Scopes::from_space_separated("admin")))
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InsufficientScope);
        assert_eq!(err.required_scope(), Some("admin write"));
        assert!(required
            .check(Some(&Scopes::from_space_separated("write admin")))
            .is_ok());
        assert!(RequiredScopes::new(["a b"]).is_err());
        assert!(RequiredScopes::new([""]).is_err());
    }
}
