//! Authorization: what a route requires of a verified token, beyond its validity
//! ([`Requirement`]), and the set of them a layer judges ([`Requirements`]).

use std::fmt;
use std::sync::Arc;

use crate::error::{AuthError, ConfigError};
use crate::verify::roles::Roles;
use crate::verify::scopes::{is_scope_token, Scopes};

/// A predicate on the typed claims.
type Predicate<C> = Arc<dyn Fn(&C) -> bool + Send + Sync>;

/// One rule a route puts on a verified token: scopes, roles, or a predicate on its claims `C`.
///
/// The constructors mirror the builder's settings: [`scopes`](Self::scopes) is
/// [`require_scopes`](crate::JwtAuthBuilder::require_scopes), [`any_scope`](Self::any_scope) is
/// [`require_any_scope`](crate::JwtAuthBuilder::require_any_scope), and so on. A requirement is
/// given to [`require_for_path`](crate::JwtAuthBuilder::require_for_path), for one gRPC method
/// (or any request path) of a service behind one layer, and the handler-side checks of
/// `tonic::RequestExt` judge with it too. Strings are checked when the requirement is added:
/// scopes must be RFC 6749 scope-tokens, roles non-empty. An empty list requires nothing.
///
/// A missing scope is refused with `insufficient_scope`, a missing role or a failed predicate
/// with `forbidden`: both 403, gRPC `PERMISSION_DENIED`.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, Requirement};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
///     tenant: String,
/// }
///
/// let auth = JwtAuthLayer::<Claims>::builder()
///     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
///     .roles_claim("realm_access.roles")?
///     .require_for_path("/greeter.Greeter/SayGoodbye", Requirement::role("staff"))?
///     .require_for_path(
///         "/billing.Billing/Refund",
///         Requirement::predicate(|claims: &Claims| claims.tenant == "acme"),
///     )?
///     .build()?;
/// # let _ = auth;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
pub struct Requirement<C> {
    rule: Rule<C>,
}

enum Rule<C> {
    Scopes {
        any: bool,
        scopes: Arc<[Box<str>]>,
        joined: Arc<str>,
        /// Every scope is a scope token, so a challenge can name them (always, once checked:
        /// only the handler-side checks of `tonic::RequestExt` judge unchecked scopes).
        named: bool,
    },
    Roles {
        any: bool,
        roles: Arc<[Box<str>]>,
    },
    Predicate(Predicate<C>),
}

impl<C> Clone for Requirement<C> {
    fn clone(&self) -> Self {
        Self {
            rule: match &self.rule {
                Rule::Scopes {
                    any,
                    scopes,
                    joined,
                    named,
                } => Rule::Scopes {
                    any: *any,
                    scopes: scopes.clone(),
                    joined: joined.clone(),
                    named: *named,
                },
                Rule::Roles { any, roles } => Rule::Roles {
                    any: *any,
                    roles: roles.clone(),
                },
                Rule::Predicate(f) => Rule::Predicate(f.clone()),
            },
        }
    }
}

impl<C> fmt::Debug for Requirement<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Rule::Scopes { any, scopes, .. } => f
                .debug_struct("Requirement")
                .field(if *any { "any_scope" } else { "scopes" }, scopes)
                .finish(),
            Rule::Roles { any, roles } => f
                .debug_struct("Requirement")
                .field(if *any { "any_role" } else { "roles" }, roles)
                .finish(),
            Rule::Predicate(_) => f
                .debug_struct("Requirement")
                .field("predicate", &format_args!("<fn>"))
                .finish(),
        }
    }
}

/// The distinct strings of `items`, in order.
fn distinct<I, S>(items: I) -> Arc<[Box<str>]>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut all: Vec<Box<str>> = Vec::new();
    for item in items {
        let item = item.into();
        if !all.iter().any(|i| **i == *item) {
            all.push(item.into_boxed_str());
        }
    }
    all.into()
}

impl<C> Requirement<C> {
    /// Every scope in `scopes`.
    pub fn scopes<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::scope_rule(false, scopes)
    }

    /// The one scope `scope`.
    pub fn scope(scope: impl Into<String>) -> Self {
        Self::scopes([scope])
    }

    /// At least one scope in `scopes`.
    pub fn any_scope<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::scope_rule(true, scopes)
    }

    fn scope_rule<I, S>(any: bool, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = distinct(scopes);
        let joined = Arc::from(scopes.join(" "));
        let named = scopes.iter().all(|scope| is_scope_token(scope));
        Self {
            rule: Rule::Scopes {
                any,
                scopes,
                joined,
                named,
            },
        }
    }

    /// Every role in `roles`, read from the claims of
    /// [`roles_claim`](crate::JwtAuthBuilder::roles_claim).
    pub fn roles<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            rule: Rule::Roles {
                any: false,
                roles: distinct(roles),
            },
        }
    }

    /// The one role `role`.
    pub fn role(role: impl Into<String>) -> Self {
        Self::roles([role])
    }

    /// At least one role in `roles`.
    pub fn any_role<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            rule: Rule::Roles {
                any: true,
                roles: distinct(roles),
            },
        }
    }

    /// Claims for which `predicate` returns `true`. The predicate runs on every request the
    /// requirement applies to, cache hits included; it should be quick and must not block.
    pub fn predicate(predicate: impl Fn(&C) -> bool + Send + Sync + 'static) -> Self {
        Self {
            rule: Rule::Predicate(Arc::new(predicate)),
        }
    }

    /// `true` when the requirement asks for nothing (an empty list).
    fn is_empty(&self) -> bool {
        match &self.rule {
            Rule::Scopes { scopes, .. } => scopes.is_empty(),
            Rule::Roles { roles, .. } => roles.is_empty(),
            Rule::Predicate(_) => false,
        }
    }

    /// Checks the strings of the requirement.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.rule {
            Rule::Scopes { scopes, .. } => match scopes.iter().find(|s| !is_scope_token(s)) {
                Some(scope) => Err(ConfigError::InvalidScope {
                    scope: scope.to_string(),
                }),
                None => Ok(()),
            },
            Rule::Roles { roles, .. } => match roles.iter().find(|r| r.is_empty()) {
                Some(role) => Err(ConfigError::InvalidRole {
                    role: role.to_string(),
                }),
                None => Ok(()),
            },
            Rule::Predicate(_) => Ok(()),
        }
    }

    /// Judges a verified token.
    pub(crate) fn check(
        &self,
        claims: &C,
        scopes: &Scopes,
        roles: &Roles,
    ) -> Result<(), AuthError> {
        match &self.rule {
            Rule::Scopes {
                any: false,
                scopes: required,
                joined,
                named,
            } => {
                if scopes.contains_all(required.iter().map(|s| &**s)) {
                    Ok(())
                } else if *named {
                    Err(AuthError::insufficient_scope(joined.clone()))
                } else {
                    Err(AuthError::insufficient_scope_unnamed())
                }
            }
            Rule::Scopes {
                any: true,
                scopes: accepted,
                joined,
                named,
            } => {
                if accepted.is_empty() || scopes.contains_any(accepted.iter().map(|s| &**s)) {
                    Ok(())
                } else if *named {
                    Err(AuthError::no_accepted_scope(joined.clone()))
                } else {
                    Err(AuthError::no_accepted_scope_unnamed())
                }
            }
            Rule::Roles {
                any: false,
                roles: required,
            } => check_roles(roles, required.iter().map(|r| &**r)),
            Rule::Roles {
                any: true,
                roles: accepted,
            } => {
                if accepted.is_empty() {
                    Ok(())
                } else {
                    check_any_role(roles, accepted.iter().map(|r| &**r))
                }
            }
            Rule::Predicate(predicate) => {
                if predicate(claims) {
                    Ok(())
                } else {
                    Err(PREDICATE_FAILED)
                }
            }
        }
    }
}

/// The refusal of a token without a required role.
pub(crate) const MISSING_ROLE: AuthError =
    AuthError::forbidden("The access token does not grant a required role");
/// The refusal of a token with none of the accepted roles.
pub(crate) const NO_ACCEPTED_ROLE: AuthError =
    AuthError::forbidden("The access token grants none of the accepted roles");
/// The refusal of claims that fail a route's predicate.
pub(crate) const PREDICATE_FAILED: AuthError =
    AuthError::forbidden("The access token's claims do not meet the route's requirement");

/// Every role of `required` is granted, or [`MISSING_ROLE`].
fn check_roles<'a>(
    roles: &Roles,
    required: impl IntoIterator<Item = &'a str>,
) -> Result<(), AuthError> {
    if roles.contains_all(required) {
        Ok(())
    } else {
        Err(MISSING_ROLE)
    }
}

/// One role of `accepted` is granted, or [`NO_ACCEPTED_ROLE`].
fn check_any_role<'a>(
    roles: &Roles,
    accepted: impl IntoIterator<Item = &'a str>,
) -> Result<(), AuthError> {
    if roles.contains_any(accepted) {
        Ok(())
    } else {
        Err(NO_ACCEPTED_ROLE)
    }
}

/// The kinds of requirement a layer holds one of each: a setting replaces its own kind only.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    Scopes = 0,
    AnyScope = 1,
    Roles = 2,
    AnyRole = 3,
    Predicate = 4,
}

/// What a layer requires of every verified token, and of those on some paths.
pub(crate) struct Requirements<C> {
    /// One per [`Slot`], judged in that order: scopes before roles before the predicate.
    slots: [Option<Requirement<C>>; 5],
    /// By exact request path (`/pkg.Service/Method`), in the order they were added.
    paths: Arc<[(Box<str>, Requirement<C>)]>,
}

impl<C> Default for Requirements<C> {
    fn default() -> Self {
        Self {
            slots: [None, None, None, None, None],
            paths: Arc::from([]),
        }
    }
}

impl<C> Clone for Requirements<C> {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            paths: self.paths.clone(),
        }
    }
}

impl<C> fmt::Debug for Requirements<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirements")
            .field(
                "all_requests",
                &self.slots.iter().flatten().collect::<Vec<_>>(),
            )
            .field("paths", &self.paths)
            .finish()
    }
}

impl<C> Requirements<C> {
    /// Replaces the requirement of `slot`, checked; an empty one removes it.
    pub(crate) fn set(
        &mut self,
        slot: Slot,
        requirement: Requirement<C>,
    ) -> Result<(), ConfigError> {
        requirement.validate()?;
        let place = &mut self.slots[slot as usize];
        *place = (!requirement.is_empty()).then_some(requirement);
        Ok(())
    }

    /// Adds a requirement for requests to `path`, checked.
    pub(crate) fn add_path(
        &mut self,
        path: String,
        requirement: Requirement<C>,
    ) -> Result<(), ConfigError> {
        if !path.starts_with('/') {
            return Err(ConfigError::InvalidRequestPath { path });
        }
        requirement.validate()?;
        if !requirement.is_empty() {
            let mut paths: Vec<_> = self.paths.iter().cloned().collect();
            paths.push((path.into_boxed_str(), requirement));
            self.paths = paths.into();
        }
        Ok(())
    }

    /// `true` when nothing is required beyond a valid token, on any path.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none) && self.paths.is_empty()
    }

    /// `true` when a request to `path` must carry a token that meets some requirement.
    pub(crate) fn apply_to(&self, path: &str) -> bool {
        self.slots.iter().any(Option::is_some) || self.paths.iter().any(|(p, _)| **p == *path)
    }

    /// Judges a verified token sent to `path`: the layer's requirements, then those of the path.
    pub(crate) fn check(
        &self,
        path: &str,
        claims: &C,
        scopes: &Scopes,
        roles: &Roles,
    ) -> Result<(), AuthError> {
        for requirement in self.slots.iter().flatten() {
            requirement.check(claims, scopes, roles)?;
        }
        for (_, requirement) in self.paths.iter().filter(|(p, _)| **p == *path) {
            requirement.check(claims, scopes, roles)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn judge(requirement: Requirement<u32>, claims: u32) -> Result<(), AuthError> {
        let scopes = Scopes::from_space_separated("read write");
        let roles = Roles::from_iter(["staff", "reader"]);
        requirement.check(&claims, &scopes, &roles)
    }

    #[test]
    fn each_rule_is_judged() {
        assert!(judge(Requirement::scopes(["read", "write"]), 0).is_ok());
        let err = judge(Requirement::scopes(["read", "admin"]), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientScope);
        assert_eq!(err.required_scope(), Some("read admin"));
        assert!(judge(Requirement::any_scope(["admin", "write"]), 0).is_ok());
        let err = judge(Requirement::any_scope(["admin", "root"]), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientScope);
        assert!(judge(Requirement::roles(["staff", "reader"]), 0).is_ok());
        assert_eq!(
            judge(Requirement::roles(["staff", "admin"]), 0),
            Err(MISSING_ROLE)
        );
        assert!(judge(Requirement::any_role(["admin", "staff"]), 0).is_ok());
        assert_eq!(
            judge(Requirement::any_role(["admin"]), 0),
            Err(NO_ACCEPTED_ROLE)
        );
        assert!(judge(Requirement::predicate(|c: &u32| *c > 1), 2).is_ok());
        assert_eq!(
            judge(Requirement::predicate(|c: &u32| *c > 1), 1),
            Err(PREDICATE_FAILED)
        );
        assert_eq!(MISSING_ROLE.kind(), ErrorKind::Forbidden);
        // Empty lists require nothing.
        assert!(judge(Requirement::any_role(Vec::<String>::new()), 0).is_ok());
        assert!(judge(Requirement::any_scope(Vec::<String>::new()), 0).is_ok());
    }

    #[test]
    fn strings_are_checked_and_paths_matched_exactly() {
        let mut requirements = Requirements::<u32>::default();
        assert!(requirements.is_empty());
        assert_eq!(
            requirements.set(Slot::Scopes, Requirement::scope("a b")),
            Err(ConfigError::InvalidScope {
                scope: "a b".into()
            })
        );
        assert_eq!(
            requirements.set(Slot::Roles, Requirement::role("")),
            Err(ConfigError::InvalidRole {
                role: String::new()
            })
        );
        assert_eq!(
            requirements.add_path("x".into(), Requirement::role("a")),
            Err(ConfigError::InvalidRequestPath { path: "x".into() })
        );
        requirements
            .add_path("/a.A/M".into(), Requirement::role("admin"))
            .unwrap();
        assert!(!requirements.is_empty());
        assert!(requirements.apply_to("/a.A/M"));
        assert!(!requirements.apply_to("/a.A/M/"));
        let (scopes, roles) = (Scopes::default(), Roles::from_iter(["staff"]));
        assert!(requirements.check("/a.A/N", &0, &scopes, &roles).is_ok());
        assert_eq!(
            requirements.check("/a.A/M", &0, &scopes, &roles),
            Err(MISSING_ROLE)
        );
        // A slot is replaced, and an empty list clears it.
        requirements
            .set(Slot::Roles, Requirement::role("root"))
            .unwrap();
        assert!(requirements.check("/x", &0, &scopes, &roles).is_err());
        requirements
            .set(Slot::Roles, Requirement::roles(Vec::<String>::new()))
            .unwrap();
        assert!(requirements.check("/x", &0, &scopes, &roles).is_ok());
        assert!(format!("{requirements:?}").contains("admin"));
        let predicate = Requirement::predicate(|_: &u32| true);
        assert_eq!(format!("{predicate:?}"), "Requirement { predicate: <fn> }");
    }
}
