//! Helpers for [tonic] services: read the verified claims in a gRPC handler.
//!
//! [`JwtAuthLayer`](crate::JwtAuthLayer) works with
//! `tonic::transport::Server::builder().layer(..)` as it is: a gRPC request (one with a
//! `content-type: application/grpc…`) that it refuses gets what a gRPC client expects, HTTP 200
//! trailers-only with `grpc-status`, `grpc-message` (`"<reason>: <description>"`) and a
//! `www-authenticate` entry. Every token failure is `UNAUTHENTICATED`, two `authorization`
//! entries are `INVALID_ARGUMENT`, a missing scope or role is `PERMISSION_DENIED`. The client reads the
//! `reason` at the start of the message, so it can tell an expired token (refresh it) from a
//! forged one.
//!
//! On success the layer puts the claims, the [`Scopes`] and the [`Roles`] into the request
//! extensions, which tonic hands over to the handler. This module adds:
//!
//! - [`RequestExt`], for `tonic::Request<T>`: [`claims`](RequestExt::claims) gives the claims or
//!   the [`Status`] to return, [`scopes`](RequestExt::scopes) and [`roles`](RequestExt::roles)
//!   what the token grants, and [`require_scopes`](RequestExt::require_scopes),
//!   [`require_any_scope`](RequestExt::require_any_scope),
//!   [`require_role`](RequestExt::require_role) and the like check them in the handler with the
//!   layer's own [`Requirement`] checks, so with the status the layer would
//!   send;
//! - `From<AuthError> for Status`, so that a token checked by hand with a
//!   [`TokenVerifier`](crate::TokenVerifier), for example in a tonic interceptor, turns into the
//!   same status the layer would send, with `?`.
//!
//! # Example
//!
//! A Greeter service (the one of `examples/tonic.rs`) behind the layer:
//!
//! ```
//! # #[allow(dead_code, unused_qualifications, clippy::all)]
//! # #[path = "../examples/proto/greeter.rs"]
//! # mod greeter;
//! use greeter::greeter_server::{Greeter, GreeterServer};
//! use greeter::{HelloReply, HelloRequest};
//! use tonic::{Request, Response, Status};
//! use tower_jwt_auth::tonic::RequestExt;
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, Requirement};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! struct MyGreeter;
//!
//! #[tonic::async_trait]
//! impl Greeter for MyGreeter {
//!     async fn say_hello(
//!         &self,
//!         request: Request<HelloRequest>,
//!     ) -> Result<Response<HelloReply>, Status> {
//!         let claims: &Claims = request.claims()?;
//!         let message = format!("Hello, {}! You are {}.", request.get_ref().name, claims.sub);
//!         Ok(Response::new(HelloReply { message }))
//!     }
//!
//!     async fn say_goodbye(
//!         &self,
//!         request: Request<HelloRequest>,
//!     ) -> Result<Response<HelloReply>, Status> {
//!         // `PERMISSION_DENIED` without the role (the layer checks it first, by path).
//!         request.require_role("staff")?;
//!         let message = format!("Goodbye, {}!", request.get_ref().name);
//!         Ok(Response::new(HelloReply { message }))
//!     }
//! }
//!
//! async fn serve(secret: &[u8]) -> Result<(), tower_jwt_auth::BoxError> {
//!     let auth = JwtAuthLayer::<Claims>::builder()
//!         .key(Key::hmac(Algorithm::HS256, secret)?)
//!         .roles_claim("realm_access.roles")?
//!         .require_for_path("/greeter.Greeter/SayGoodbye", Requirement::role("staff"))?
//!         .build()?;
//!     tonic::transport::Server::builder()
//!         .layer(auth)
//!         .add_service(GreeterServer::new(MyGreeter))
//!         .serve("127.0.0.1:50051".parse()?)
//!         .await?;
//!     Ok(())
//! }
//! # let _ = serve;
//! ```
//!
//! # One service, several permission levels
//!
//! tonic routes a call by its path, `/<package>.<Service>/<Method>`, and by nothing else. So
//! the methods of one service, behind one layer, get their own requirements in either of two
//! ways:
//!
//! - by the layer, with
//!   [`require_for_path`](crate::JwtAuthBuilder::require_for_path)`("/greeter.Greeter/SayGoodbye",
//!   Requirement::role("staff"))`: the call is refused before the handler runs;
//! - in the handler, with `request.require_role("staff")?` (or
//!   [`require_scopes`](RequestExt::require_scopes), [`require_any_role`](RequestExt::require_any_role), …).
//!
//! Both answer `PERMISSION_DENIED` with the same message: `"forbidden: …"` for a role,
//! `"insufficient_scope: …"` for a scope.
//!
//! ```
//! use tonic::{Code, Request};
//! use tower_jwt_auth::tonic::RequestExt;
//! use tower_jwt_auth::{Roles, Scopes};
//!
//! // What a handler sees behind the layer (in a unit test, put it there yourself).
//! let mut request = Request::new(());
//! request.extensions_mut().insert(Scopes::from_space_separated("read"));
//! request.extensions_mut().insert(Roles::from_iter(["staff"]));
//! assert!(request.require_role("staff").is_ok());
//! assert!(request.require_scopes(["read"]).is_ok());
//! let status = request.require_any_role(["admin", "auditor"]).unwrap_err();
//! assert_eq!(status.code(), Code::PermissionDenied);
//! assert!(status.message().starts_with("forbidden: "));
//! // Without a verified token: UNAUTHENTICATED.
//! let status = Request::new(()).require_role("staff").unwrap_err();
//! assert_eq!(status.code(), Code::Unauthenticated);
//! ```
//!
//! # Claims outside of the layer
//!
//! [`claims`](RequestExt::claims) tells two cases apart:
//!
//! - No token was verified for the request: the layer is [optional](crate::AuthMode::Optional)
//!   and the caller is anonymous, or no layer runs in front of the service at all. The handler
//!   gets `UNAUTHENTICATED` with the message `"missing: …"`, what the layer itself answers to a
//!   request without a token. A handler cannot tell the two causes apart, and for an anonymous
//!   caller this is the right answer; a forgotten layer so fails closed, every call refused.
//! - A token was verified but the claims are not of the type asked for (the layer was built for
//!   another claims type): a bug in the server, not the caller's fault, so `INTERNAL`, with a
//!   message that names no type.
//!
//! ```
//! use tonic::{Code, Request};
//! use tower_jwt_auth::tonic::RequestExt;
//!
//! #[derive(Clone, Debug)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! // What a handler sees when no layer verified a token.
//! let request = Request::new(());
//! let status = request.claims::<Claims>().unwrap_err();
//! assert_eq!(status.code(), Code::Unauthenticated);
//! assert!(status.message().starts_with("missing: "));
//! assert!(request.scopes().is_none());
//!
//! // What it sees behind the layer (in a unit test of a handler, put them there yourself).
//! let mut request = Request::new(());
//! request.extensions_mut().insert(Claims { sub: "alice".into() });
//! request
//!     .extensions_mut()
//!     .insert(tower_jwt_auth::Scopes::from_space_separated("read"));
//! assert_eq!(request.claims::<Claims>().unwrap().sub, "alice");
//! assert!(request.scopes().unwrap().contains("read"));
//! ```

use http::HeaderMap;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use crate::authz::Requirement;
use crate::error::{AuthError, ErrorKind};
use crate::rejection::DefaultRejection;
use crate::verify::roles::Roles;
use crate::verify::scopes::Scopes;

/// What a handler answers when no token was verified for the request.
const NO_VERIFIED_TOKEN: AuthError = AuthError::new(
    ErrorKind::Missing,
    "The request carries no verified access token",
);

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for tonic::Request<T> {}
}

/// Reads what [`JwtAuthLayer`](crate::JwtAuthLayer) verified from a `tonic::Request`.
///
/// See the [module docs](self) for an example. The trait is sealed: it is implemented for
/// `tonic::Request<T>` only.
pub trait RequestExt: sealed::Sealed {
    /// The verified claims, of the type `C` the layer was built for.
    ///
    /// # Errors
    ///
    /// - `UNAUTHENTICATED`, `"missing: …"`, when no token was verified for the request (an
    ///   anonymous caller of an optional layer, or no layer at all);
    /// - `INTERNAL` when a token was verified but its claims are not a `C`: the layer was built
    ///   for another claims type.
    ///
    /// See the [module docs](self#claims-outside-of-the-layer) for why.
    fn claims<C: Send + Sync + 'static>(&self) -> Result<&C, Status>;

    /// The scopes the verified token grants, or `None` when no token was verified.
    fn scopes(&self) -> Option<&Scopes>;

    /// The roles the verified token grants (read from the
    /// [`roles_claim`](crate::JwtAuthBuilder::roles_claim)s), or `None` when no token was
    /// verified.
    fn roles(&self) -> Option<&Roles>;

    /// `Ok` when the verified token grants every scope in `scopes`: the check of
    /// [`Requirement::scopes`](crate::Requirement::scopes). An empty list requires none.
    ///
    /// # Errors
    ///
    /// `PERMISSION_DENIED`, `"insufficient_scope: …"`, when a scope is not granted;
    /// `UNAUTHENTICATED`, `"missing: …"`, when no token was verified.
    fn require_scopes<I, S>(&self, scopes: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>;

    /// `Ok` when the verified token grants at least one scope in `scopes`: the check of
    /// [`Requirement::any_scope`](crate::Requirement::any_scope). An empty list requires none.
    ///
    /// # Errors
    ///
    /// As [`require_scopes`](Self::require_scopes).
    fn require_any_scope<I, S>(&self, scopes: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>;

    /// `Ok` when the verified token grants the role `role`.
    ///
    /// # Errors
    ///
    /// `PERMISSION_DENIED`, `"forbidden: …"`, when the role is not granted; `UNAUTHENTICATED`,
    /// `"missing: …"`, when no token was verified.
    fn require_role(&self, role: &str) -> Result<(), Status>;

    /// `Ok` when the verified token grants every role in `roles`: the check of
    /// [`Requirement::roles`](crate::Requirement::roles). An empty list requires none.
    ///
    /// # Errors
    ///
    /// As [`require_role`](Self::require_role).
    fn require_roles<I, S>(&self, roles: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>;

    /// `Ok` when the verified token grants at least one role in `roles`: the check of
    /// [`Requirement::any_role`](crate::Requirement::any_role). An empty list requires none.
    ///
    /// # Errors
    ///
    /// As [`require_role`](Self::require_role).
    fn require_any_role<I, S>(&self, roles: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>;
}

/// The strings of a handler-side check, as a [`Requirement`] takes them.
fn owned<I, S>(items: I) -> impl Iterator<Item = String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items.into_iter().map(|item| String::from(item.as_ref()))
}

/// Judges a scope `requirement` against the scopes of the token verified for `extensions`, as
/// the layer does.
fn check_scopes(extensions: &http::Extensions, requirement: Requirement<()>) -> Result<(), Status> {
    let granted = extensions.get::<Scopes>().ok_or(NO_VERIFIED_TOKEN)?;
    Ok(requirement.check(&(), granted, &Roles::default())?)
}

/// Judges a role `requirement` against the roles of the token verified for `extensions`, as the
/// layer does.
fn check_roles(extensions: &http::Extensions, requirement: Requirement<()>) -> Result<(), Status> {
    let granted = Roles::from_extensions(extensions).ok_or(NO_VERIFIED_TOKEN)?;
    Ok(requirement.check(&(), &Scopes::default(), granted)?)
}

impl<T> RequestExt for tonic::Request<T> {
    fn claims<C: Send + Sync + 'static>(&self) -> Result<&C, Status> {
        let extensions = self.extensions();
        if let Some(claims) = extensions.get::<C>() {
            return Ok(claims);
        }
        if extensions.get::<Scopes>().is_none() {
            return Err(Status::from(NO_VERIFIED_TOKEN));
        }
        #[cfg(feature = "tracing")]
        tracing::error!(
            claims = std::any::type_name::<C>(),
            "a token was verified, but its claims are not of the type the handler asked for"
        );
        Err(Status::internal(
            "The verified claims are not of the expected type",
        ))
    }

    fn scopes(&self) -> Option<&Scopes> {
        self.extensions().get::<Scopes>()
    }

    fn roles(&self) -> Option<&Roles> {
        Roles::from_extensions(self.extensions())
    }

    fn require_scopes<I, S>(&self, scopes: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        check_scopes(self.extensions(), Requirement::scopes(owned(scopes)))
    }

    fn require_any_scope<I, S>(&self, scopes: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        check_scopes(self.extensions(), Requirement::any_scope(owned(scopes)))
    }

    fn require_role(&self, role: &str) -> Result<(), Status> {
        check_roles(self.extensions(), Requirement::role(role))
    }

    fn require_roles<I, S>(&self, roles: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        check_roles(self.extensions(), Requirement::roles(owned(roles)))
    }

    fn require_any_role<I, S>(&self, roles: I) -> Result<(), Status>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        check_roles(self.extensions(), Requirement::any_role(owned(roles)))
    }
}

/// The status the default rejection sends for this error: the code of
/// [`ErrorKind::grpc_code`], the message `"<reason>: <description>"`, and a `www-authenticate`
/// entry with the RFC 6750 challenge (without a realm, which the error does not know).
impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        let code = Code::from_i32(i32::from(error.kind().grpc_code()));
        let message = format!("{}: {}", error.reason(), error.description());
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(
            http::header::WWW_AUTHENTICATE,
            DefaultRejection::new().challenge(&error),
        );
        Status::with_metadata(code, message, MetadataMap::from_headers(headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Debug, PartialEq)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn claims_and_scopes_are_read_from_the_extensions() {
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(Claims { sub: "a".into() });
        request
            .extensions_mut()
            .insert(Scopes::from_space_separated("read write"));
        assert_eq!(request.claims::<Claims>().unwrap().sub, "a");
        assert!(request.scopes().unwrap().contains("write"));
    }

    #[test]
    fn no_verified_token_is_unauthenticated() {
        let request = tonic::Request::new(());
        let status = request.claims::<Claims>().unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(
            status.message(),
            "missing: The request carries no verified access token"
        );
        assert_eq!(status.metadata().get("www-authenticate").unwrap(), "Bearer");
        assert!(request.scopes().is_none());
    }

    #[test]
    fn claims_of_another_type_are_internal() {
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(Scopes::default());
        request.extensions_mut().insert(String::from("not claims"));
        let status = request.claims::<Claims>().unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("Claims"));
    }

    #[test]
    fn handler_side_requirements_answer_as_the_layer_does() {
        let mut request = tonic::Request::new(());
        request
            .extensions_mut()
            .insert(Scopes::from_space_separated("read"));
        request
            .extensions_mut()
            .insert(Roles::from_iter(["staff", "reader"]));
        assert!(request.require_scopes(["read"]).is_ok());
        assert!(request.require_role("staff").is_ok());
        assert!(request.require_roles(["staff", "reader"]).is_ok());
        assert!(request.require_any_role(["admin", "reader"]).is_ok());
        let status = request.require_scopes(["read", "admin"]).unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "insufficient_scope: The access token does not grant the required scope"
        );
        assert!(status
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("scope=\"read admin\""));
        let status = request.require_scopes(["a\"b"]).unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        for status in [
            request.require_role("admin").unwrap_err(),
            request.require_roles(["staff", "admin"]).unwrap_err(),
        ] {
            assert_eq!(status.code(), Code::PermissionDenied);
            assert_eq!(
                status.message(),
                "forbidden: The access token does not grant a required role"
            );
            assert_eq!(
                status.metadata().get("www-authenticate").unwrap(),
                "Bearer error=\"insufficient_scope\", error_description=\"The access token does not grant a required role\""
            );
        }
        let status = request.require_any_role(["admin"]).unwrap_err();
        assert_eq!(
            status.message(),
            "forbidden: The access token grants none of the accepted roles"
        );
        let anonymous = tonic::Request::new(());
        for status in [
            anonymous.require_scopes(["read"]).unwrap_err(),
            anonymous.require_role("staff").unwrap_err(),
            anonymous.require_any_role(["staff"]).unwrap_err(),
        ] {
            assert_eq!(status.code(), Code::Unauthenticated);
            assert!(status.message().starts_with("missing: "));
        }
        assert!(anonymous.roles().is_none());
    }

    #[test]
    fn any_of_forms_and_empty_lists_judge_as_the_layer_does() {
        let mut request = tonic::Request::new(());
        request
            .extensions_mut()
            .insert(Scopes::from_space_separated("read"));
        assert!(request.require_any_scope(["admin", "read"]).is_ok());
        let status = request.require_any_scope(["admin", "write"]).unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "insufficient_scope: The access token grants none of the accepted scopes"
        );
        assert!(status
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("scope=\"admin write\""));
        // A scope that is no scope token is never granted, and the challenge does not name it.
        let status = request.require_any_scope(["a\"b"]).unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(!status
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("scope="));
        // No `Roles` next to the scopes: no role granted. Empty lists require nothing.
        assert!(request.require_any_role(["staff"]).is_err());
        assert!(request.require_any_role(Vec::<String>::new()).is_ok());
        assert!(request.require_any_scope(Vec::<String>::new()).is_ok());
        let anonymous = tonic::Request::new(());
        let status = anonymous.require_any_scope(["read"]).unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }

    #[test]
    fn auth_errors_map_to_grpc_codes() {
        let expired = Status::from(AuthError::new(
            ErrorKind::Expired,
            "The access token expired",
        ));
        assert_eq!(expired.code(), Code::Unauthenticated);
        assert_eq!(expired.message(), "expired: The access token expired");
        assert_eq!(
            expired.metadata().get("www-authenticate").unwrap(),
            "Bearer error=\"invalid_token\", error_description=\"The access token expired\""
        );
        assert_eq!(
            Status::from(AuthError::invalid_request("x")).code(),
            Code::InvalidArgument
        );
        let scope = Status::from(AuthError::insufficient_scope(Arc::from("admin")));
        assert_eq!(scope.code(), Code::PermissionDenied);
        assert!(scope
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("scope=\"admin\""));
    }
}
