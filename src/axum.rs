//! Extractors for axum handlers: [`Claims`], [`Scopes`] and [`Roles`].
//!
//! [`JwtAuthLayer`](crate::JwtAuthLayer) puts the claims of a verified token, of the type `C`
//! it was built with, into the request extensions, with the granted [`Scopes`] beside them.
//! These extractors take them out again:
//!
//! - [`Claims<C>`] clones the claims. On a route where the layer is not installed, or where it
//!   is [optional](crate::AuthMode::Optional) and the request carried no token, there are
//!   none: the extractor then refuses with [`MissingClaims`], a `500 Internal Server Error`,
//!   because a handler that requires claims on a route that does not require a token is a
//!   server bug, not a client error (axum's `Extension` does the same).
//! - `Option<Claims<C>>` never refuses: `Some` with a verified token, `None` without one. Use
//!   it behind an optional layer, for pages that work with or without a user.
//! - [`Scopes`] and `Option<Scopes>` work the same way, for the granted scopes, and [`Roles`]
//!   and `Option<Roles>` for the roles read from the
//!   [`roles_claim`](crate::JwtAuthBuilder::roles_claim)s.
//!
//! The extractors only read what the layer left; they verify nothing themselves. A route that
//! needs a token needs the layer: `Option<Claims<C>>` on a route without any layer is always
//! `None`, whatever the request carries.
//!
//! # Example
//!
//! A route that requires a token, one where it is optional, and one that requires the scope
//! `admin`:
//!
//! ```
//! use axum::{routing::get, Json, Router};
//! use serde::{Deserialize, Serialize};
//! use tower_jwt_auth::axum::Claims;
//! use tower_jwt_auth::{Algorithm, AuthMode, InvalidTokenPolicy, JwtAuthLayer, Key, Scopes};
//!
//! #[derive(Clone, Deserialize, Serialize)]
//! struct User {
//!     sub: String,
//! }
//!
//! async fn me(Claims(user): Claims<User>) -> Json<User> {
//!     Json(user)
//! }
//!
//! async fn home(user: Option<Claims<User>>) -> String {
//!     match user {
//!         Some(Claims(user)) => format!("hello {}", user.sub),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//!
//! async fn admin(user: Claims<User>, scopes: Scopes) -> String {
//!     // `Claims` derefs to the claims.
//!     format!("{} may {scopes}", user.sub)
//! }
//!
//! # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
//! # let secret = [7_u8; 32];
//! let auth = JwtAuthLayer::<User>::builder()
//!     .key(Key::hmac(Algorithm::HS256, secret)?)
//!     .build()?;
//!
//! // Variants of one layer: one configuration, one cache, one key fetcher.
//! let optional = auth.clone().mode(AuthMode::Optional(InvalidTokenPolicy::Reject));
//! let admin_only = auth.clone().require_scopes(["admin"])?;
//!
//! let app: Router = Router::new()
//!     .route("/me", get(me).layer(auth))
//!     .route("/", get(home).layer(optional))
//!     .route("/admin", get(admin).layer(admin_only));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! The layer can also sit on a whole router, with `Router::layer` (every route, including the
//! fallback) or `Router::route_layer` (the routes that match).
//!
//! # What the handler sees
//!
//! ```
//! use axum::{body::Body, http::Request, routing::get, Router};
//! use tower::ServiceExt;
//! use tower_jwt_auth::axum::Claims;
//! use tower_jwt_auth::{Algorithm, AuthMode, InvalidTokenPolicy, JwtAuthLayer, Key};
//!
//! #[derive(Clone, serde::Deserialize, serde::Serialize)]
//! struct User {
//!     sub: String,
//!     exp: u64,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = b"an example secret of at least 32 bytes";
//! let auth = JwtAuthLayer::<User>::builder()
//!     .key(Key::hmac(Algorithm::HS256, secret)?)
//!     .build()?;
//! let app = Router::new().route(
//!     "/maybe",
//!     get(|user: Option<Claims<User>>| async move {
//!         user.map_or_else(|| "nobody".to_owned(), |user| user.sub.clone())
//!     })
//!     .layer(auth.mode(AuthMode::Optional(InvalidTokenPolicy::Reject))),
//! );
//!
//! // A token, as an identity provider would issue it.
//! let exp = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH)?
//!     .as_secs()
//!     + 600;
//! let user = User { sub: "alice".into(), exp };
//! // Signing with jsonwebtoken needs a process-wide provider; the layer itself needs none.
//! let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
//! let token = jsonwebtoken::encode(
//!     &jsonwebtoken::Header::new(Algorithm::HS256),
//!     &user,
//!     &jsonwebtoken::EncodingKey::from_secret(secret)?,
//! )?;
//!
//! let request = Request::get("/maybe")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! let response = app.clone().oneshot(request).await?;
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(body, "alice");
//!
//! let response = app.oneshot(Request::get("/maybe").body(Body::empty())?).await?;
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(body, "nobody");
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::ops::{Deref, DerefMut};

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::{HeaderValue, CONTENT_TYPE};
use http::request::Parts;
use http::StatusCode;

use crate::verify::roles::Roles;
use crate::verify::scopes::Scopes;

/// Extracts the claims that [`JwtAuthLayer`](crate::JwtAuthLayer) verified, cloned from the
/// request extensions.
///
/// `C` is the claims type the layer was built with. Without claims in the extensions the
/// extraction fails with [`MissingClaims`] (500); `Option<Claims<C>>` gives `None` instead. See
/// the [module docs](self) for examples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Claims<C>(pub C);

impl<C> Claims<C> {
    /// Returns the claims.
    pub fn into_inner(self) -> C {
        self.0
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;

    #[inline]
    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> DerefMut for Claims<C> {
    #[inline]
    fn deref_mut(&mut self) -> &mut C {
        &mut self.0
    }
}

impl<C, S> FromRequestParts<S> for Claims<C>
where
    C: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<C>()
            .cloned()
            .map(Claims)
            .ok_or_else(MissingClaims::new::<C>)
    }
}

impl<C, S> OptionalFromRequestParts<S> for Claims<C>
where
    C: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<C>().cloned().map(Claims))
    }
}

impl<S> FromRequestParts<S> for Scopes
where
    S: Send + Sync,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Scopes>()
            .cloned()
            .ok_or_else(MissingClaims::new::<Scopes>)
    }
}

impl<S> OptionalFromRequestParts<S> for Scopes
where
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Scopes>().cloned())
    }
}

impl<S> FromRequestParts<S> for Roles
where
    S: Send + Sync,
{
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Roles::from_extensions(&parts.extensions)
            .cloned()
            .ok_or_else(MissingClaims::new::<Roles>)
    }
}

impl<S> OptionalFromRequestParts<S> for Roles
where
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Roles::from_extensions(&parts.extensions).cloned())
    }
}

/// The rejection of [`Claims`], [`Scopes`] and [`Roles`] when the request extensions hold none: the
/// route has no [`JwtAuthLayer`](crate::JwtAuthLayer), or an optional one and the request
/// carried no token.
///
/// That is a bug in the server's routing, not the client's fault, so the response is
/// `500 Internal Server Error` with a plain-text explanation (as for axum's `Extension`). Put
/// the layer on the route, or extract `Option<Claims<C>>` where authentication is optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingClaims {
    type_name: &'static str,
}

impl MissingClaims {
    fn new<T>() -> Self {
        Self {
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The name of the type that was not found in the request extensions.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The status of the response: always `500 Internal Server Error`.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The text of the response body.
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Missing JWT claims: no `{}` in the request extensions. Is the `JwtAuthLayer` \
             installed on this route, and not in optional mode? See `tower_jwt_auth::axum`.",
            self.type_name
        )
    }
}

impl std::error::Error for MissingClaims {}

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        #[cfg(feature = "tracing")]
        tracing::error!(
            type_name = self.type_name,
            "a handler extracts JWT claims on a route without a required `JwtAuthLayer`; \
             this is a routing bug"
        );
        let mut response = self.body_text().into_response();
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct User {
        sub: String,
    }

    fn parts() -> Parts {
        http::Request::new(()).into_parts().0
    }

    async fn claims(parts: &mut Parts) -> Result<Claims<User>, MissingClaims> {
        <Claims<User> as FromRequestParts<()>>::from_request_parts(parts, &()).await
    }

    async fn optional_claims(parts: &mut Parts) -> Option<Claims<User>> {
        match <Claims<User> as OptionalFromRequestParts<()>>::from_request_parts(parts, &()).await {
            Ok(claims) => claims,
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn claims_are_cloned_from_the_extensions() {
        let mut parts = parts();
        let user = User {
            sub: "alice".into(),
        };
        parts.extensions.insert(user.clone());
        let extracted = claims(&mut parts).await.unwrap();
        assert_eq!(extracted.sub, "alice");
        assert_eq!(extracted.into_inner(), user);
        assert_eq!(
            optional_claims(&mut parts).await,
            Some(Claims(user.clone()))
        );
        // Extraction does not take the claims away from later extractors.
        assert_eq!(parts.extensions.get::<User>(), Some(&user));
    }

    #[tokio::test]
    async fn missing_claims_are_a_server_error() {
        let mut parts = parts();
        let rejection = claims(&mut parts).await.unwrap_err();
        assert!(rejection.type_name().ends_with("User"));
        assert_eq!(optional_claims(&mut parts).await, None);

        let response = rejection.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = std::str::from_utf8(&body).unwrap();
        assert!(body.contains("JwtAuthLayer"), "{body}");
        assert!(body.contains("User"), "{body}");
    }

    #[tokio::test]
    async fn scopes_are_extracted() {
        let mut parts = parts();
        let missing = <Scopes as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        assert!(missing.type_name().ends_with("Scopes"));
        let none = <Scopes as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(none, None);

        parts
            .extensions
            .insert(Scopes::from_space_separated("read admin"));
        let scopes = <Scopes as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert!(scopes.contains("admin"));
        let some = <Scopes as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(some, Some(scopes));
    }

    #[tokio::test]
    async fn roles_are_extracted() {
        let mut parts = parts();
        let missing = <Roles as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        assert!(missing.type_name().ends_with("Roles"));
        let none = <Roles as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(none, None);

        parts.extensions.insert(Roles::from_iter(["staff"]));
        let roles = <Roles as FromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert!(roles.contains("staff"));
        let some = <Roles as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(some, Some(roles));
    }

    #[test]
    fn claims_deref() {
        let mut claims = Claims(User { sub: "a".into() });
        claims.sub.push('b');
        assert_eq!(&*claims.sub, "ab");
    }
}
