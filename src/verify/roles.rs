//! [`Roles`], the values a verified token grants through the claims the layer is told to read
//! ([`ClaimPath`]), and [`RolePaths`], those paths as the single-pass parse walks them.

use std::fmt;

use crate::error::ConfigError;
use crate::verify::claims::{classify, Claim};
use crate::verify::scopes::Joined;

/// Where a claim that grants roles, groups or permissions sits in the claims set: a path of
/// member names from the top-level object down.
///
/// From a `&str`, the path is split at each dot: `"realm_access.roles"` is the member `roles`
/// of the object `realm_access`. A colon or a dash is part of a name (`"cognito:groups"`,
/// `"resource_access.my-api.roles"`). A name that itself contains dots, such as the namespaced
/// claims of Auth0 (`https://example.com/roles`), needs [`ClaimPath::from_segments`].
///
/// # Example
///
/// ```
/// use tower_jwt_auth::ClaimPath;
///
/// let keycloak = ClaimPath::from("resource_access.my-api.roles");
/// assert_eq!(keycloak.segments().collect::<Vec<_>>(), ["resource_access", "my-api", "roles"]);
/// let cognito = ClaimPath::from("cognito:groups");
/// assert_eq!(cognito.segments().count(), 1);
/// let auth0 = ClaimPath::from_segments(["https://example.com/roles"]);
/// assert_eq!(auth0.segments().collect::<Vec<_>>(), ["https://example.com/roles"]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimPath {
    segments: Box<[Box<str>]>,
}

impl ClaimPath {
    /// A path of member names given one by one, each taken whole (dots included).
    pub fn from_segments<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            segments: segments
                .into_iter()
                .map(|s| s.into().into_boxed_str())
                .collect(),
        }
    }

    /// The member names, from the top-level object down.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| &**s)
    }

    /// Checks the path for [`build`](crate::JwtAuthBuilder::build).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason| ConfigError::InvalidClaimPath {
            path: self.to_string(),
            reason,
        };
        let Some(first) = self.segments.first() else {
            return Err(invalid("it has no member name"));
        };
        if self.segments.len() > MAX_PATH_DEPTH {
            return Err(invalid("it is deeper than 16 member names"));
        }
        if self.segments.iter().any(|s| s.is_empty()) {
            return Err(invalid("a member name is empty"));
        }
        if classify(first) != Claim::Other {
            return Err(invalid(
                "it names a registered claim the layer reads itself (scopes are read as Scopes)",
            ));
        }
        Ok(())
    }
}

/// The deepest path accepted.
const MAX_PATH_DEPTH: usize = 16;

impl From<&str> for ClaimPath {
    fn from(path: &str) -> Self {
        Self::from_segments(path.split('.'))
    }
}

impl From<String> for ClaimPath {
    fn from(path: String) -> Self {
        Self::from(path.as_str())
    }
}

impl From<&String> for ClaimPath {
    fn from(path: &String) -> Self {
        Self::from(path.as_str())
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

impl fmt::Debug for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClaimPath").field(&self.segments).finish()
    }
}

/// The configured paths as a tree of member names, walked by the single-pass parse.
#[derive(Clone, Debug, Default)]
pub(crate) struct RolePaths {
    pub(crate) root: Node,
}

/// One member name of a path: whether a path ends here, and the names below it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    /// A path ends at this member: its value grants roles.
    pub(crate) grants: bool,
    pub(crate) children: Vec<(Box<str>, Node)>,
}

impl Node {
    /// The member `name` below this one, if a path goes through it.
    #[inline]
    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(n, _)| **n == *name)
            .map(|(_, node)| node)
    }
}

impl RolePaths {
    /// The tree of `paths`, each checked.
    pub(crate) fn new(paths: &[ClaimPath]) -> Result<Self, ConfigError> {
        let mut root = Node::default();
        for path in paths {
            path.validate()?;
            let mut node = &mut root;
            for segment in path.segments() {
                let at = match node.children.iter().position(|(n, _)| **n == *segment) {
                    Some(at) => at,
                    None => {
                        node.children.push((segment.into(), Node::default()));
                        node.children.len() - 1
                    }
                };
                // `at` is in bounds: found, or just pushed.
                let Some((_, child)) = node.children.get_mut(at) else {
                    break;
                };
                node = child;
            }
            node.grants = true;
        }
        Ok(Self { root })
    }

    /// `true` when no path is configured: the parse then watches nothing more.
    pub(crate) fn is_empty(&self) -> bool {
        self.root.children.is_empty()
    }
}

/// The roles (or groups, or permissions) a verified token grants, read from the claims
/// configured with [`roles_claim`](crate::JwtAuthBuilder::roles_claim): a set of strings.
///
/// [`JwtAuth`](crate::JwtAuth) puts a `Roles` into the request extensions next to the claims
/// and the [`Scopes`](crate::Scopes) when a verified token grants at least one role; a verified
/// token that grants none (no path configured, or nothing there) adds no `Roles`, so that it
/// costs nothing, and the axum extractor and `tonic::RequestExt::roles` read such a request as
/// an empty set. Code reading the extensions directly treats an absent `Roles` next to present
/// `Scopes` the same way: [`Roles::from_extensions`] does. A value at a path grants when it is a list of
/// strings (each string is one role, kept whole, spaces included) or a string (split at
/// spaces). A value of any other type, or a list with anything but strings in it, grants
/// nothing; it does not make the token invalid. Empty strings and strings with a NUL character
/// grant nothing either. Matching is whole and case-sensitive.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::Roles;
///
/// let roles = Roles::from_iter(["staff", "reader"]);
/// assert!(roles.contains("staff"));
/// assert!(roles.contains_any(["admin", "staff"]));
/// assert!(!roles.contains_all(["admin", "staff"]));
/// assert_eq!(roles.iter().collect::<Vec<_>>(), ["staff", "reader"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// The roles separated by NUL: short lists need no allocation.
    joined: Joined,
}

/// What separates the roles in [`Roles::joined`].
const SEPARATOR: char = '\0';
/// [`SEPARATOR`] as a byte: in UTF-8, no other character contains it.
const SEPARATOR_BYTE: u8 = 0;

impl Roles {
    /// The roles of a request that a [`JwtAuth`](crate::JwtAuth) layer has seen: the `Roles` in
    /// `extensions`, an empty set when a token was verified (its [`Scopes`](crate::Scopes) are
    /// there) but granted no role, and `None` when no token was verified.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&Roles> {
        static EMPTY: std::sync::OnceLock<Roles> = std::sync::OnceLock::new();
        match extensions.get::<Roles>() {
            Some(roles) => Some(roles),
            None if extensions.get::<crate::Scopes>().is_some() => {
                Some(EMPTY.get_or_init(Roles::default))
            }
            None => None,
        }
    }

    /// `true` when `role` is granted, compared whole and case-sensitively.
    pub fn contains(&self, role: &str) -> bool {
        self.joined.contains_item(role, SEPARATOR_BYTE)
    }

    /// `true` when every role in `required` is granted (and so when `required` is empty).
    pub fn contains_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|role| self.contains(role))
    }

    /// `true` when at least one role in `accepted` is granted (never when `accepted` is empty).
    pub fn contains_any<'a>(&self, accepted: impl IntoIterator<Item = &'a str>) -> bool {
        accepted.into_iter().any(|role| self.contains(role))
    }

    /// The granted roles, each once, in the order the token lists them.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined
            .as_str()
            .split(SEPARATOR)
            .filter(|s| !s.is_empty())
    }

    /// How many roles are granted.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// `true` when no role is granted.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }

    /// Grants `role` too, unless it is empty, has a NUL or is granted already.
    pub(crate) fn add(&mut self, role: &str) {
        if role.is_empty() || role.as_bytes().contains(&SEPARATOR_BYTE) || self.contains(role) {
            return;
        }
        if !self.joined.is_empty() {
            self.joined.push(SEPARATOR);
        }
        self.joined.push_str(role);
    }

    /// A point to [`reset`](Self::reset) to.
    pub(crate) fn mark(&self) -> usize {
        self.joined.as_bytes().len()
    }

    /// Forgets the roles added since `mark`.
    pub(crate) fn reset(&mut self, mark: usize) {
        self.joined.truncate(mark);
    }
}

impl<S: AsRef<str>> FromIterator<S> for Roles {
    /// Roles from strings, each kept whole; empty strings, strings with a NUL and repeats are
    /// dropped.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut roles = Self::default();
        for role in iter {
            roles.add(role.as_ref());
        }
        roles
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_dots_and_keep_colons_and_dashes() {
        let path = ClaimPath::from("resource_access.my-api.roles");
        assert_eq!(path.to_string(), "resource_access.my-api.roles");
        assert_eq!(path.segments().count(), 3);
        assert_eq!(
            ClaimPath::from("cognito:groups")
                .segments()
                .collect::<Vec<_>>(),
            ["cognito:groups"]
        );
        let namespaced = ClaimPath::from_segments(["https://example.com/roles"]);
        assert_eq!(namespaced.segments().count(), 1);
    }

    #[test]
    fn invalid_paths_are_refused() {
        for path in [
            ClaimPath::from(""),
            ClaimPath::from("a..b"),
            ClaimPath::from(".a"),
            ClaimPath::from("scope"),
            ClaimPath::from("scp"),
            ClaimPath::from("aud.x"),
            ClaimPath::from_segments(Vec::<String>::new()),
            ClaimPath::from(vec!["a"; 17].join(".")),
        ] {
            assert!(
                matches!(path.validate(), Err(ConfigError::InvalidClaimPath { .. })),
                "{path}"
            );
        }
        assert!(ClaimPath::from("roles").validate().is_ok());
    }

    #[test]
    fn the_tree_shares_prefixes() {
        let paths = RolePaths::new(&[
            "realm_access.roles".into(),
            "resource_access.api.roles".into(),
            "realm_access".into(),
            "realm_access.roles".into(),
        ])
        .unwrap();
        assert_eq!(paths.root.children.len(), 2);
        let realm = paths.root.child("realm_access").unwrap();
        assert!(realm.grants);
        assert!(realm.child("roles").unwrap().grants);
        assert!(!paths.root.child("resource_access").unwrap().grants);
        assert!(RolePaths::new(&[]).unwrap().is_empty());
    }

    #[test]
    fn roles_from_extensions_are_empty_for_a_verified_token_without_roles() {
        let mut extensions = http::Extensions::new();
        assert!(
            Roles::from_extensions(&extensions).is_none(),
            "no token verified"
        );
        extensions.insert(crate::Scopes::default());
        let roles = Roles::from_extensions(&extensions).expect("a verified token");
        assert!(roles.is_empty());
        extensions.insert(Roles::from_iter(["staff"]));
        let roles = Roles::from_extensions(&extensions).expect("a verified token");
        assert!(roles.contains("staff"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 2048,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// The byte-level `contains` and `add` agree with the plain reading: a list of the
        /// distinct, non-empty, NUL-free strings, in order, compared whole.
        #[test]
        fn roles_match_the_plain_reading(
            roles in proptest::collection::vec("(staff|admin|a b|é|\\PC{0,6}|\\x00|)", 0..40),
            queries in proptest::collection::vec("(staff|admin|a|b|a b|é|\\PC{0,6}|\\x00|)", 0..6),
        ) {
            let got = Roles::from_iter(&roles);
            let mut plain: Vec<&str> = Vec::new();
            for role in &roles {
                if !role.is_empty() && !role.contains('\0') && !plain.contains(&role.as_str()) {
                    plain.push(role);
                }
            }
            proptest::prop_assert_eq!(got.iter().collect::<Vec<_>>(), plain.clone());
            proptest::prop_assert_eq!(got.is_empty(), plain.is_empty());
            for query in queries.iter().map(String::as_str).chain(plain.iter().copied()) {
                proptest::prop_assert_eq!(got.contains(query), plain.contains(&query), "{:?}", query);
            }
        }
    }

    #[test]
    fn roles_are_a_set() {
        let roles = Roles::from_iter(["a", "b", "a", "", "Domain Users", "x\0y"]);
        assert_eq!(roles.len(), 3);
        // Long lists leave the inline buffer, and a reset cuts them back.
        let mut long = Roles::from_iter((0..40).map(|i| format!("role-{i}")));
        assert_eq!(long.len(), 40);
        let mark = long.mark();
        long.add("extra");
        assert!(long.contains("extra"));
        long.reset(mark);
        assert!(!long.contains("extra") && long.contains("role-39"));
        let mut short = Roles::from_iter(["a"]);
        let mark = short.mark();
        short.add("b");
        short.reset(mark);
        assert_eq!(short, Roles::from_iter(["a"]));
        assert!(roles.contains("Domain Users"));
        assert!(!roles.contains("A"));
        assert!(roles.contains_all(["a", "b"]));
        assert!(roles.contains_all([]));
        assert!(!roles.contains_any([]));
        assert!(Roles::default().is_empty());
        assert_eq!(Roles::from_iter([""; 0]), Roles::default());
        assert_eq!(format!("{roles:?}"), r#"{"a", "b", "Domain Users"}"#);
    }
}
