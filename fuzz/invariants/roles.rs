//! `roles`: claim paths with roles, through the layer's single-pass parse.
//!
//! Input: the claims' bytes, signed as HS256 under `{"alg":"HS256","typ":"JWT"}`, sent to two
//! layers that read roles from `realm_access.roles`, `resource_access.my-api.roles` and
//! `groups` (neither needs an `exp`); the second requires the role `staff`.
//!
//! Invariants: no answer is a server error; the roles the handler gets are the roles read from
//! serde_json's reading of the claims (at each path, a string split at spaces, or an array of
//! strings only; empty strings and strings with NUL left out); and the second layer lets a
//! token through exactly when the first does and those roles hold `staff`.
#![allow(dead_code)]

use std::collections::BTreeSet;

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use serde_json::Value;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};

use crate::common;

pub const PATHS: [&str; 3] = [
    "realm_access.roles",
    "resource_access.my-api.roles",
    "groups",
];

fn layer(require_staff: bool) -> JwtAuthLayer<Value> {
    let mut builder = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(Algorithm::HS256, common::SECRET).expect("an HS256 key"))
        .clock(common::clock())
        .exp_required(false)
        .max_lifetime(None);
    for path in PATHS {
        builder = builder.roles_claim(path).expect("a claim path");
    }
    if require_staff {
        builder = builder.require_roles(["staff"]).expect("a role");
    }
    builder.build().expect("the roles layer")
}

/// The roles serde_json's reading of `claims` grants.
pub fn reference_roles(claims: &Value) -> BTreeSet<String> {
    let mut roles = BTreeSet::new();
    for path in PATHS {
        let mut value = Some(claims);
        for segment in path.split('.') {
            value = value
                .and_then(|v| v.as_object())
                .and_then(|o| o.get(segment));
        }
        let granted: Vec<&str> = match value {
            Some(Value::String(s)) => s.split(' ').collect(),
            Some(Value::Array(items)) => {
                let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                strings.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        roles.extend(
            granted
                .into_iter()
                .filter(|role| !role.is_empty() && !role.contains('\0'))
                .map(str::to_owned),
        );
    }
    roles
}

/// Checks the invariants for one input; `true` when the staff-only layer let the token through.
pub fn check(data: &[u8]) -> bool {
    thread_local! {
        static SERVICES: [common::Service; 2] =
            [common::service(layer(false)), common::service(layer(true))];
    }
    let token = common::hs256_raw(br#"{"alg":"HS256","typ":"JWT"}"#, data);
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is ASCII");
    let replies = SERVICES.with(|services| {
        services.each_ref().map(|service| {
            let mut request = Request::new(Default::default());
            request.headers_mut().insert(AUTHORIZATION, value.clone());
            common::send(service, request)
        })
    });
    let [open, staff_only] = replies;
    let Some(seen) = open.seen else {
        assert!(
            staff_only.seen.is_none(),
            "the staff layer passed a token the other refused"
        );
        return false;
    };
    let claims: Value = serde_json::from_slice(data).expect("accepted claims are JSON");
    assert_eq!(
        seen.claims.as_ref(),
        Some(&claims),
        "claims differ from serde_json's"
    );
    let expected = reference_roles(&claims);
    let granted: BTreeSet<String> = seen.roles.unwrap_or_default().into_iter().collect();
    assert_eq!(
        granted, expected,
        "the roles granted differ from the claims' roles"
    );
    assert_eq!(
        staff_only.seen.is_some(),
        expected.contains("staff"),
        "require_roles([\"staff\"]) judged differently from the claims"
    );
    staff_only.seen.is_some()
}
