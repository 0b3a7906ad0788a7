//! [`Scopes`], the scopes a verified token grants (its `scope` and `scp` claims).

use std::fmt;

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

/// The joined scopes (or roles): short lists (the usual case) need no allocation.
#[derive(Clone)]
pub(crate) enum Joined {
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
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only whole `&str`s are ever copied in, so the bytes are UTF-8.
            Joined::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Joined::Heap(s) => s,
        }
    }

    /// The bytes of [`as_str`](Self::as_str), without checking them again: comparisons work on
    /// these.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Joined::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Joined::Heap(s) => s.as_bytes(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Whether `item` is one of the items joined by the ASCII byte `separator`, compared whole.
    /// On bytes: an ASCII byte is never part of another UTF-8 character, and the bytes were
    /// checked when they were copied in. An empty `item` is never contained.
    pub(crate) fn contains_item(&self, item: &str, separator: u8) -> bool {
        !item.is_empty()
            && self
                .as_bytes()
                .split(|&b| b == separator)
                .any(|i| i == item.as_bytes())
    }

    /// Cuts the list back to its first `len` bytes, a length it had before.
    pub(crate) fn truncate(&mut self, len: usize) {
        match self {
            Joined::Inline { len: at, .. } => {
                if let Ok(len) = u8::try_from(len) {
                    *at = (*at).min(len);
                }
            }
            Joined::Heap(s) => {
                if s.is_char_boundary(len) {
                    s.truncate(len);
                }
            }
        }
    }

    pub(crate) fn push_str(&mut self, more: &str) {
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

    pub(crate) fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
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
        self.joined.contains_item(scope, b' ')
    }

    /// `true` when every scope in `required` is granted.
    pub fn contains_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|scope| self.contains(scope))
    }

    /// `true` when at least one scope in `accepted` is granted (never when `accepted` is empty).
    pub fn contains_any<'a>(&self, accepted: impl IntoIterator<Item = &'a str>) -> bool {
        accepted.into_iter().any(|scope| self.contains(scope))
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

#[cfg(test)]
mod tests;
