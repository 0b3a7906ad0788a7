//! Reading a request: the refresh token of its JSON body or of the refresh cookie, within
//! [`MAX_BODY_LEN`], and the double-submit check of a request that uses the cookie.

use std::error::Error as StdError;
use std::fmt;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;

use super::response::{auth_error, invalid_body, too_large, unsupported_media_type};
use super::{SessionEndpoints, MAX_BODY_LEN};
use crate::body::ResponseBody;
use crate::error::AuthError;
use crate::source::cookie_value;

/// Where a refresh token came from.
pub(super) enum Presented {
    Body(String),
    Cookie(String),
}

#[derive(Deserialize)]
struct TokenRequest {
    refresh_token: String,
}

impl SessionEndpoints {
    /// The refresh cookie's value, when the endpoints serve cookies and it was sent; a
    /// duplicated one is a 400.
    pub(super) fn refresh_cookie(&self, headers: &HeaderMap) -> Result<Option<String>, AuthError> {
        let Some(cookies) = &self.cookies else {
            return Ok(None);
        };
        Ok(
            cookie_value(headers, cookies.refresh_cookie_name().as_bytes())?
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned),
        )
    }

    /// The refresh token of a JSON body or, for an empty body, of the refresh cookie; or the
    /// refusal (400 or 413).
    pub(super) async fn read_presented<B: Body>(
        &self,
        request: Request<B>,
    ) -> Result<(Presented, HeaderMap), Response<ResponseBody>> {
        let (parts, body) = request.into_parts();
        let body = read_json_body(&parts.headers, body).await?;
        if body.is_empty() {
            let cookie = self
                .refresh_cookie(&parts.headers)
                .map_err(|error| auth_error(&error))?;
            if let Some(token) = cookie {
                return Ok((Presented::Cookie(token), parts.headers));
            }
        }
        serde_json::from_slice::<TokenRequest>(&body)
            .map(|r| (Presented::Body(r.refresh_token), parts.headers))
            .map_err(|_| invalid_body())
    }

    /// The double-submit check of a request that uses the refresh cookie, against the session
    /// the cookie's token names (its MAC verified, no store access). Any token that can change
    /// the store (rotate it, or end the session as reuse) names its session under a valid MAC,
    /// so it is checked; a token with a bad MAC changes nothing, and the operation refuses it.
    /// The refusal, if any.
    pub(super) fn check_cookie(
        &self,
        headers: &HeaderMap,
        token: &str,
    ) -> Option<Response<ResponseBody>> {
        if !self.csrf.is_double_submit() {
            return None;
        }
        let sid = self.sessions.session_id_of(token)?;
        self.csrf
            .check_double_submit(headers, Some(sid.as_str()))
            .err()
            .map(|error| auth_error(&error))
    }
}

/// The body's own error, told apart from [`LengthLimitError`] after [`Limited`].
#[derive(Debug)]
struct ReadFailed;

impl fmt::Display for ReadFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body could not be read")
    }
}

impl StdError for ReadFailed {}

/// The request body, at most [`MAX_BODY_LEN`] bytes, or the refusal (400, 413 or 415): a
/// non-empty body must be `application/json` (parameters such as `charset` aside), so that no
/// form a page of another site can send without a preflight (`text/plain`, a form encoding) is
/// ever read; an empty body needs no content type.
pub(super) async fn read_json_body<B: Body>(
    headers: &HeaderMap,
    body: B,
) -> Result<Bytes, Response<ResponseBody>> {
    let body = read_body(headers, body).await?;
    if body.is_empty() || is_json(headers) {
        Ok(body)
    } else {
        Err(unsupported_media_type())
    }
}

/// Whether the request's content type, sent once, is `application/json`, in any case, with
/// any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => {
            let bytes = value.as_bytes();
            let essence = bytes.split(|b| *b == b';').next().unwrap_or(bytes);
            essence
                .trim_ascii()
                .eq_ignore_ascii_case(b"application/json")
        }
        _ => false,
    }
}

/// The request body, at most [`MAX_BODY_LEN`] bytes, or the refusal (400 or 413). A body that
/// declares more (`Content-Length`, or its size hint) is refused unread; reading stops at the
/// first frame past the limit.
async fn read_body<B: Body>(headers: &HeaderMap, body: B) -> Result<Bytes, Response<ResponseBody>> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_LEN as u64)
        || body.size_hint().lower() > MAX_BODY_LEN as u64
    {
        return Err(too_large());
    }
    match Limited::new(body.map_err(|_| ReadFailed), MAX_BODY_LEN)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large()),
        Err(_) => Err(invalid_body()),
    }
}
