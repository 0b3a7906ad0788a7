//! A session-backed service in one page: password login with a role put into the token, the
//! crate's session endpoints under `/auth`, a route checked for revocation and one that needs
//! the role `admin`, with the crate's CSRF defaults. The `session` example is the complete
//! reference (argon2, a login throttle, Redis, a browser page).
//!
//! ```text
//! cargo run --example session_minimal --features axum
//! ```
//!
//! | route | answer |
//! |---|---|
//! | `POST /login` `{"username", "password"}` | 200: the pair as JSON (`access_token`, `refresh_token`, `token_type`, `expires_in`, `session_expires_at`) and the session cookies; wrong credentials: 401 reason `invalid_credentials`; from another site: 403 `csrf` |
//! | `POST /auth/refresh`, `/auth/logout`, `/auth/logout-all`, `GET /auth/session`, `GET /auth/sessions`, `DELETE /auth/sessions/{id}`, `POST /auth/logout-others` | the crate's endpoints (`Sessions::routes`) |
//! | `GET /me` | 200 `{"sub"}`; 401 `revoked` once the session ended |
//! | `GET /admin` | 200 for a user with the role `admin` (alice); 403 `forbidden` for the others (bob) |
//!
//! Users: `alice` (password `alice-pw`, role `admin`) and `bob` (password `bob-pw`, no role).
//! `ADDR` is the address to listen on (default `127.0.0.1:3003`), `JWT_SECRET` the HS256 secret,
//! at least 32 bytes (default: a public demo secret, with a warning). The cookies are `Secure`
//! with their `__Host-`/`__Secure-` prefixes; browsers keep them on `http://localhost`.
//!
//! ```text
//! curl -si localhost:3003/login -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"alice-pw"}'
//! curl -s localhost:3003/admin -H "authorization: Bearer $ACCESS"
//! ```

use axum::extract::State;
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_jwt_auth::axum::Claims;
use tower_jwt_auth::session::{CookieSettings, Grant, SessionError, Sessions};
use tower_jwt_auth::{Algorithm, BoxError, SigningKey};

/// Without `JWT_SECRET`: public, so anyone can mint tokens it accepts. For trying it only.
const DEMO_SECRET: &str = "demo secret: public, never use it outside of a demo";

/// Name, password, roles. Compared in plain text for the demo: hash passwords in real code
/// (argon2, as the `session` example does).
const USERS: [(&str, &str, &[&str]); 2] =
    [("alice", "alice-pw", &["admin"]), ("bob", "bob-pw", &[])];

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Clone, Deserialize, Serialize)]
struct User {
    sub: String,
}

async fn login(
    State(sessions): State<Sessions>,
    head: Parts,
    Json(credentials): Json<Credentials>,
) -> Result<Response, SessionError> {
    let user = USERS.iter().find(|(name, password, _)| {
        *name == credentials.username && *password == credentials.password
    });
    let Some((name, _, roles)) = user else {
        let body = json!({"error": "invalid_grant", "error_description":
            "The username or password is wrong", "reason": "invalid_credentials"});
        return Ok((StatusCode::UNAUTHORIZED, Json(body)).into_response());
    };
    // One call: the origin check (login CSRF), the session, the pair as JSON, the cookies and
    // `Cache-Control: no-store`. The role goes into the token, read by `roles_claim` below.
    let grant = Grant::new(*name).claim("roles", roles.to_vec());
    Ok(sessions.login(&head, grant).await?.into_response())
}

async fn me(Claims(user): Claims<User>) -> Json<User> {
    Json(user)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3003".to_owned());
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        eprintln!(
            "\nwarning: JWT_SECRET is not set, so the server signs with the public demo secret: \
             anyone can mint tokens it accepts. Set JWT_SECRET (at least 32 bytes) for anything \
             but a demo.\n"
        );
        DEMO_SECRET.to_owned()
    });
    // One configuration: keys, cookies and the CSRF guard (on by default) for the login, the
    // endpoints and the layer alike.
    let sessions = Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, secret.as_bytes())?)?
        .issuer("session-minimal")?
        .cookies(CookieSettings::new())
        .build()?;
    // Bearer header or access cookie, checked against the store (logout revokes at once).
    let auth = sessions
        .layer_builder::<User>()
        .revocation(sessions.store().clone())
        .roles_claim("roles")?
        .build()?;
    let app = Router::new()
        .route("/login", post(login).with_state(sessions.clone()))
        .nest_service("/auth", sessions.routes()?)
        .route("/me", get(me).layer(auth.clone()))
        .route("/admin", get(me).layer(auth.require_roles(["admin"])?));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
