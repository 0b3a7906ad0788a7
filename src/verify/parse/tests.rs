use std::collections::HashMap;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize, PartialEq)]
struct Typed {
    sub: String,
    exp: u64,
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Ignoring {
    name: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Flattened {
    sub: String,
    #[serde(flatten)]
    rest: HashMap<String, serde_json::Value>,
}

const PAYLOADS: &[&str] = &[
    r#"{"sub":"a","exp":100}"#,
    r#"{"sub":"a","exp":100,"aud":"api","iss":"https://i","nbf":5,"iat":6.5}"#,
    r#"{"sub":"a","exp":100,"aud":["x","api"],"scp":["read","write"],"scope":"a b"}"#,
    r#"{"sub":"a\u0062","exp":100,"iss":"esc\"aped","jti":"j","client_id":"c"}"#,
    r#"{"sub":"a","exp":"100"}"#,
    r#"{"sub":"a","exp":100,"exp":200}"#,
    r#"{"sub":"a","exp":100,"role":"u","role":"admin"}"#,
    r#"{"sub":"a","exp":-5}"#,
    r#"{"sub":"a","exp":100,"aud":["api",5]}"#,
    r#"{"sub":"a","exp":100,"aud":5}"#,
    r#"{"sub":"a","exp":100,"iss":null}"#,
    r#"{"sub":"a","exp":100,"nested":{"exp":"x","aud":[1]}}"#,
    r#"{"sub":"a","exp":1e300,"name":"n"}"#,
    r#"{"sub":5,"exp":100}"#,
    r#"{"sub":"a","exp":100,"scope":["x"]}"#,
    r#"[1,2]"#,
    r#"null"#,
    r#"{"sub":"a","exp":100} x"#,
];

fn standalone(json: &str) -> Option<Registered<'_>> {
    serde_json::from_str::<Registered<'_>>(json).ok()
}

fn same(a: &Registered<'_>, b: &Registered<'_>) -> bool {
    fn aud(r: &Registered<'_>) -> Option<Vec<String>> {
        r.aud
            .as_ref()
            .map(|a| a.as_slice().iter().map(|s| s.to_string()).collect())
    }
    a.exp == b.exp
        && a.nbf == b.nbf
        && a.iat == b.iat
        && a.iss == b.iss
        && a.sub == b.sub
        && aud(a) == aud(b)
}

fn check<C: for<'de> Deserialize<'de> + PartialEq + fmt::Debug>() {
    for json in PAYLOADS {
        let expected_claims = serde_json::from_str::<C>(json).ok();
        let expected = standalone(json);
        let mut observed = Observed::default();
        match parse::<C>(json, &mut observed) {
            Ok(claims) => {
                assert_eq!(Some(&claims), expected_claims.as_ref(), "{json}");
                let accepted = observed.saw_object && !observed.invalid;
                assert_eq!(accepted, expected.is_some(), "{json}");
                if let Some(expected) = expected {
                    assert!(same(&observed.registered, &expected), "{json}");
                }
            }
            // The tap refuses whatever the plain parse of `C` refuses, and duplicates.
            Err(_) => assert!(expected_claims.is_none() || expected.is_none(), "{json}"),
        }
    }
}

#[test]
fn the_watch_agrees_with_separate_parses() {
    check::<serde_json::Value>();
    check::<Typed>();
    check::<Ignoring>();
    check::<Flattened>();
}

#[test]
fn registered_claims_are_seen_even_when_the_type_skips_them() {
    let json = r#"{"exp":100,"iss":"i","aud":["a","b"],"scp":"x y","name":"n"}"#;
    let mut observed = Observed::default();
    let claims = parse::<Ignoring>(json, &mut observed).unwrap();
    assert_eq!(claims.name.as_deref(), Some("n"));
    assert_eq!(observed.registered.exp, Some(100.0));
    assert_eq!(observed.registered.iss.as_deref(), Some("i"));
    assert_eq!(observed.registered.aud.unwrap().as_slice(), ["a", "b"]);
    assert!(matches!(observed.scp, Some(OneOrMany::One(ref s)) if s == "x y"));
    assert!(observed.registered.names.contains("name"));
    assert!(!observed.invalid);
}

#[test]
fn registered_names_are_recorded_and_repeats_refused() {
    let mut observed = Observed::default();
    let json = r#"{"aud":"a","jti":"j","role":"r"}"#;
    parse::<serde_json::Value>(json, &mut observed).unwrap();
    let registered = &observed.registered;
    assert!(registered.has("aud") && registered.has("jti") && registered.has("role"));
    assert!(!registered.has("exp") && !registered.has("scope") && !registered.has("rol"));
    for json in [
        r#"{"exp":1,"exp":2}"#,
        r#"{"exp":1,"\u0065xp":2}"#,
        r#"{"client_id":"a","client_id":"a"}"#,
        r#"{"scope":"a","x":1,"scope":"a"}"#,
    ] {
        let mut observed = Observed::default();
        assert!(
            parse::<serde_json::Value>(json, &mut observed).is_err(),
            "{json}"
        );
        assert!(
            serde_json::from_str::<Registered<'_>>(json).is_err(),
            "{json}"
        );
    }
}

#[test]
fn wrong_types_and_duplicates_are_flagged() {
    let mut observed = Observed::default();
    parse::<serde_json::Value>(r#"{"exp":"1"}"#, &mut observed).unwrap();
    assert!(observed.invalid);
    let mut observed = Observed::default();
    parse::<serde_json::Value>(r#"{"aud":["a",1]}"#, &mut observed).unwrap();
    assert!(observed.invalid);
    let mut observed = Observed::default();
    assert!(parse::<serde_json::Value>(r#"{"a":1,"a":2}"#, &mut observed).is_err());
    let mut observed = Observed::default();
    assert!(parse::<serde_json::Value>("[]", &mut observed).is_err());
    assert!(!observed.saw_object);
}

/// The roles granted at `paths` in `json`, read while `C` deserializes.
fn granted<C: for<'de> Deserialize<'de>>(paths: &[&str], json: &str) -> Option<Vec<String>> {
    let paths: Vec<crate::ClaimPath> = paths.iter().map(|p| (*p).into()).collect();
    let paths = RolePaths::new(&paths).unwrap();
    let mut observed = Observed {
        paths: Some(&paths),
        ..Observed::default()
    };
    parse::<C>(json, &mut observed).ok()?;
    assert!(!observed.invalid, "{json}");
    Some(observed.granted.iter().map(|s| s.to_string()).collect())
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Keycloak {
    sub: String,
    realm_access: RealmAccess,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct RealmAccess {
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "lowercase")]
enum Role {
    Staff,
    Admin,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Typed2 {
    realm_access: TypedRoles,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct TypedRoles {
    roles: Vec<Role>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct RoleName(String);

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Newtypes {
    groups: Vec<RoleName>,
}

#[test]
fn roles_are_read_whatever_the_claims_type_makes_of_them() {
    let json = r#"{"sub":"a","realm_access":{"other":[1],"roles":["staff","re\"ader"]},"x":1}"#;
    let expected = ["staff", "re\"ader"].map(String::from).to_vec();
    let path = &["realm_access.roles"];
    assert_eq!(
        granted::<serde_json::Value>(path, json),
        Some(expected.clone())
    );
    assert_eq!(granted::<Ignoring>(path, json), Some(expected.clone()));
    assert_eq!(granted::<Flattened>(path, json), Some(expected.clone()));
    assert_eq!(granted::<Keycloak>(path, json), Some(expected));
    // Typed roles: unit variants and newtypes of strings.
    let json = r#"{"realm_access":{"roles":["staff","admin"]}}"#;
    assert_eq!(
        granted::<Typed2>(path, json),
        Some(vec!["staff".into(), "admin".into()])
    );
    let json = r#"{"groups":["a","b"]}"#;
    assert_eq!(
        granted::<Newtypes>(&["groups"], json),
        Some(vec!["a".into(), "b".into()])
    );
}

#[test]
fn strings_are_split_at_spaces_and_paths_add_up() {
    let json = r#"{"cognito:groups":"a  b","resource_access":{"my-api":{"roles":["c"]},"other":{"roles":["d"]}},"https://example.com/roles":["e"]}"#;
    let paths: Vec<crate::ClaimPath> = vec![
        "cognito:groups".into(),
        "resource_access.my-api.roles".into(),
        crate::ClaimPath::from_segments(["https://example.com/roles"]),
    ];
    let paths = RolePaths::new(&paths).unwrap();
    let mut observed = Observed {
        paths: Some(&paths),
        ..Observed::default()
    };
    parse::<Ignoring>(json, &mut observed).unwrap();
    assert_eq!(
        observed.granted.iter().collect::<Vec<_>>(),
        ["a", "b", "c", "e"]
    );
}

#[test]
fn other_types_grant_nothing_and_never_fail_the_token() {
    let path = &["realm_access.roles"];
    for json in [
        r#"{"sub":"a"}"#,
        r#"{"realm_access":null}"#,
        r#"{"realm_access":5}"#,
        r#"{"realm_access":"staff"}"#,
        r#"{"realm_access":["staff"]}"#,
        r#"{"realm_access":{"roles":5}}"#,
        r#"{"realm_access":{"roles":{"staff":true}}}"#,
        r#"{"realm_access":{"roles":["staff",1]}}"#,
        r#"{"realm_access":{"roles":[["staff"]]}}"#,
        r#"{"realm_access":{"roles":[null]}}"#,
        r#"{"realm_access":{"roles":true}}"#,
        r#"{"realm_access":{"roles":null}}"#,
        r#"{"realm_access":{"roles":[]}}"#,
        r#"{"realm_access":{"roles":""}}"#,
        r#"{"realm_access":{"role":["staff"]}}"#,
    ] {
        assert_eq!(
            granted::<serde_json::Value>(path, json),
            Some(vec![]),
            "{json}"
        );
        assert_eq!(granted::<Ignoring>(path, json), Some(vec![]), "{json}");
    }
    // No paths: nothing is watched.
    let mut observed = Observed::default();
    parse::<Ignoring>(r#"{"roles":["a"]}"#, &mut observed).unwrap();
    assert!(observed.granted.is_empty());
}

#[test]
fn the_claims_parse_is_unchanged_by_the_watch() {
    let paths: Vec<crate::ClaimPath> = vec!["realm_access.roles".into(), "groups".into()];
    let paths = RolePaths::new(&paths).unwrap();
    for json in PAYLOADS.iter().chain(&[
        r#"{"sub":"a","exp":1,"groups":["x"],"realm_access":{"roles":"y"}}"#,
        r#"{"sub":"a","exp":1,"groups":5,"realm_access":[1]}"#,
        r#"{"sub":"a","exp":1,"groups":["x"],"groups":["y"]}"#,
    ]) {
        let mut plain = Observed::default();
        let mut watched = Observed {
            paths: Some(&paths),
            ..Observed::default()
        };
        let a = parse::<serde_json::Value>(json, &mut plain).ok();
        let b = parse::<serde_json::Value>(json, &mut watched).ok();
        assert_eq!(a, b, "{json}");
        assert_eq!(plain.invalid, watched.invalid, "{json}");
    }
}
