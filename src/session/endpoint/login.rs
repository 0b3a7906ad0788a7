//! Login in one call: [`Sessions::login`] checks the request's origin (login CSRF), opens the
//! session and answers it; [`Sessions::login_response`] answers a pair opened otherwise.

use http::header::SET_COOKIE;
use http::request::Parts;
use http::{Response, StatusCode};

use super::devices::client_of_parts;
use super::response::json;
use crate::body::ResponseBody;
use crate::session::{Grant, SessionError, Sessions, TokenPair};

impl Sessions {
    /// Logs a user in, after the application checked their credentials: one call for the
    /// whole answer of a login handler.
    ///
    /// 1. The request must pass the sessions' [CSRF guard](crate::session::SessionsBuilder::csrf)
    ///    ([`check_login_origin`](Self::check_login_origin)): another site cannot make a
    ///    browser log into an account of its choosing (login CSRF). A refusal is
    ///    [`SessionErrorKind::Csrf`](crate::session::SessionErrorKind::Csrf), answered 403
    ///    `csrf`, and opens nothing.
    /// 2. A `DPoP` proof on the request (RFC 9449 §5) is checked
    ///    ([`check_dpop_proof`](Self::check_dpop_proof)) and binds the tokens, the refresh token
    ///    included, to its key ([`Grant::dpop_bound`]; the pair says `"token_type": "DPoP"`);
    ///    a proof that fails is [`InvalidDpopProof`](crate::session::SessionErrorKind::InvalidDpopProof),
    ///    answered 400 `invalid_dpop_proof`. Without a proof the tokens are bearer tokens.
    /// 3. The session is opened for `grant` ([`open`](Self::open)), recording the client: the
    ///    `User-Agent` and the peer address (a `SocketAddr` or `IpAddr` in the request's
    ///    extensions, as for [`SessionEndpoints::record_client`](super::SessionEndpoints::record_client)).
    /// 4. The answer is [`login_response`](Self::login_response): 200, the pair as JSON, the
    ///    cookies when configured, `Cache-Control: no-store`.
    ///
    /// `request` is the request's head: with axum, the `http::request::Parts` extractor
    /// (before the body's); with hyper, `request.into_parts().0`. Return the error as it is:
    /// [`SessionError::http_response`] (with feature `axum`, `IntoResponse`) is the answer.
    ///
    /// ```
    /// use http::request::Parts;
    /// use tower_jwt_auth::session::{Grant, Sessions};
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sessions = Sessions::builder()
    /// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
    /// #     .issuer("https://issuer.example")?.build()?;
    /// let (head, _body) = http::Request::post("/login").body(())?.into_parts();
    /// // ... the credentials in the body were checked ...
    /// let response = sessions.login(&head, Grant::new("alice").claim("roles", ["admin"])).await?;
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["cache-control"], "no-store");
    ///
    /// // A request another site's page made the browser send:
    /// let (head, _body) = http::Request::post("/login")
    ///     .header("sec-fetch-site", "cross-site")
    ///     .body(())?
    ///     .into_parts();
    /// let refused = sessions.login(&head, Grant::new("alice")).await.unwrap_err();
    /// assert_eq!(refused.http_response().status(), 403);
    /// assert_eq!(refused.reason(), "csrf");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Csrf`](crate::session::SessionErrorKind::Csrf) and
    /// [`InvalidDpopProof`](crate::session::SessionErrorKind::InvalidDpopProof) (above), and the errors of
    /// [`open`](Self::open) and [`login_response`](Self::login_response).
    pub async fn login(
        &self,
        request: &Parts,
        grant: Grant,
    ) -> Result<Response<ResponseBody>, SessionError> {
        self.check_login_origin(request)?;
        let grant = match self
            .check_dpop_proof(&request.method, &request.uri, &request.headers)
            .await?
        {
            Some(jkt) if grant.dpop_jkt().is_none() => grant.dpop_bound(jkt),
            _ => grant,
        };
        let client = client_of_parts(&request.headers, &request.extensions);
        let pair = self.open_for(grant, client).await?;
        self.login_response(&pair)
    }

    /// The origin check of [`login`](Self::login) alone: the sessions' CSRF guard's
    /// [`check_request_origin`](crate::csrf::CsrfGuard::check_request_origin), whatever the
    /// method. `login` makes it itself; call it first too when checking the credentials is
    /// costly (a password hash), so that a cross-site request is refused before it.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::Csrf`](crate::session::SessionErrorKind::Csrf), answered 403 `csrf`.
    pub fn check_login_origin(&self, request: &Parts) -> Result<(), SessionError> {
        self.csrf_guard()
            .check_request_origin(&request.uri, &request.headers)
            .map_err(SessionError::csrf)
    }

    /// The answer to a login that opened `pair`: 200 with the pair as JSON (the OAuth token
    /// response of [`TokenPair`]), `Cache-Control: no-store`, and, with
    /// [cookies](crate::session::SessionsBuilder::cookies), the `Set-Cookie` headers of the access
    /// and refresh cookies (and of the CSRF cookie with a double-submit guard), as the
    /// endpoints' refresh sets them.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::Cookie`](crate::session::SessionErrorKind::Cookie) when a cookie
    /// cannot be set (see [`CookieSettings::set`](crate::session::CookieSettings::set)).
    pub fn login_response(&self, pair: &TokenPair) -> Result<Response<ResponseBody>, SessionError> {
        let mut response = json(StatusCode::OK, pair);
        if let Some(cookies) = self.cookie_settings() {
            let set = cookies
                .set(pair, self.csrf_guard().key())
                .map_err(SessionError::cookie)?;
            for value in set {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        Ok(response)
    }
}
