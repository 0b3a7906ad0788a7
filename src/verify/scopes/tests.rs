use super::*;

#[test]
fn scopes_match_whole_words_only() {
    let scopes = Scopes::from_claims::<&str>(Some("read  readadmin"), None).unwrap();
    assert!(scopes.contains("read"));
    assert!(scopes.contains("readadmin"));
    assert!(!scopes.contains("admin"));
    assert!(!scopes.contains("READ"));
    assert!(!scopes.contains(""));
}

#[test]
fn long_scope_lists_spill_to_the_heap_and_stay_equal() {
    let long: Vec<String> = (0..20).map(|i| format!("scope-number-{i}")).collect();
    let joined = long.join(" ");
    let scopes = Scopes::from_space_separated(&joined);
    assert_eq!(scopes.iter().count(), 20);
    assert!(scopes.contains("scope-number-19"));
    assert_eq!(scopes.to_string(), joined);
    let merged = Scopes::from_claims(Some(&long[..10].join(" ")), Some(&long[10..])).unwrap();
    assert_eq!(merged, scopes);
    assert_ne!(merged, Scopes::from_space_separated("a"));
}

#[test]
fn scope_and_scp_are_merged() {
    let scopes = Scopes::from_claims(Some("a"), Some(&["b", "a", "c d"][..])).unwrap();
    assert_eq!(scopes.iter().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    assert!(Scopes::from_claims::<&str>(Some("a\"b"), None).is_err());
    assert!(Scopes::from_claims(None, Some(&["x\\y"][..])).is_err());
}

#[test]
fn a_plain_scope_list_is_kept_whole_and_anything_else_is_normalised() {
    for (scope, plain) in [
        ("read write", true),
        ("", true),
        ("a!#[]~", true),
        (" read", false),
        ("read ", false),
        ("read  write", false),
        ("read\twrite", false),
        ("read \"write\"", false),
        ("caf\u{e9}", false),
    ] {
        assert_eq!(plain_scope_list(scope).is_some(), plain, "{scope:?}");
        // Both ways give the same scopes, or the same refusal.
        let normalised = Some(Scopes::from_space_separated(scope))
            .filter(|scopes| scopes.iter().all(is_scope_token));
        assert_eq!(
            Scopes::from_claims::<&str>(Some(scope), None).ok(),
            normalised,
            "{scope:?}"
        );
    }
    // Long plain lists are kept whole too, on the heap.
    let long = (0..30)
        .map(|i| format!("scope-{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let scopes = Scopes::from_claims::<&str>(Some(&long), None).unwrap();
    assert!(matches!(scopes.joined, Joined::Heap(_)));
    assert_eq!(scopes, Scopes::from_space_separated(&long));
    assert_eq!(scopes.iter().count(), 30);
    let exactly_inline = "a".repeat(INLINE_SCOPES);
    let scopes = Scopes::from_claims::<&str>(Some(&exactly_inline), None).unwrap();
    assert!(matches!(scopes.joined, Joined::Inline { .. }));
    assert_eq!(scopes.to_string(), exactly_inline);
    let scopes = Scopes::from_claims::<&str>(Some("read write"), None).unwrap();
    assert_eq!(scopes.to_string(), "read write");
    assert_eq!(scopes.iter().collect::<Vec<_>>(), ["read", "write"]);
}

#[test]
fn required_scopes_are_checked() {
    use crate::authz::Requirement;
    let roles = crate::Roles::default();
    let required = Requirement::<()>::scopes(["admin", "write"]);
    let err = required
        .check(&(), &Scopes::from_space_separated("admin"), &roles)
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InsufficientScope);
    assert_eq!(err.required_scope(), Some("admin write"));
    assert!(required
        .check(&(), &Scopes::from_space_separated("write admin"), &roles)
        .is_ok());
    assert!(Requirement::<()>::scopes(["a b"]).validate().is_err());
    assert!(Requirement::<()>::scopes([""]).validate().is_err());
}

/// [`Scopes`] (the inline or heap [`Joined`] list, the one-pass check and copy of a plain
/// `scope`, the merge of `scp`) against the plain reading: `split(' ')`, skipping empty items,
/// each item an RFC 6749 §3.3 scope-token or the whole claim refused, `scp` items added when not
/// already granted, and `contains` as a comparison with each item. Scope strings are random and
/// adversarial: repeated, leading and trailing spaces, tabs and other whitespace, non-ASCII,
/// quotes, backslashes, control characters, empty, and long enough to leave the inline buffer
/// and its one-byte length.
mod differential {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::test_runner::Config;

    use crate::verify::scopes::*;

    /// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`, written independently of
    /// the crate's predicate.
    fn plain_token(token: &str) -> bool {
        !token.is_empty()
            && token
                .chars()
                .all(|c| matches!(c, '\u{21}' | '\u{23}'..='\u{5b}' | '\u{5d}'..='\u{7e}'))
    }

    fn plain_items(list: &str) -> impl Iterator<Item = &str> {
        list.split(' ').filter(|item| !item.is_empty())
    }

    /// The scopes granted by `scope` and `scp`, or `None` for a refused claims set.
    fn plain_claims(scope: Option<&str>, scp: Option<&[String]>) -> Option<Vec<String>> {
        let mut granted: Vec<String> = Vec::new();
        for item in plain_items(scope.unwrap_or_default()) {
            if !plain_token(item) {
                return None;
            }
            granted.push(item.to_owned());
        }
        for list in scp.unwrap_or_default() {
            for item in plain_items(list) {
                if !plain_token(item) {
                    return None;
                }
                if !granted.iter().any(|g| g == item) {
                    granted.push(item.to_owned());
                }
            }
        }
        Some(granted)
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[!#-\\[\\]-~]{1,8}",
            2 => select(&["read", "write", "readadmin", "admin", "a", "b"][..]).prop_map(str::to_owned),
            2 => select(&[
                "\"", "\\", "a\"b", "x\\y", "é", "caf\u{e9}", "\u{0}", "\u{7f}", "\u{a0}", "tab\tx",
                "line\nx", "\u{1f600}", "\u{2003}", "\u{feff}", "'", "!", "~", "#", "[", "]",
            ][..])
            .prop_map(str::to_owned),
            1 => "\\PC{1,4}",
        ]
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            10 => Just(" "),
            3 => select(&["", "  ", "   ", "\t", " \t", "\n", "\r\n", "\u{a0}", "\u{3000}"][..]),
        ]
    }

    fn valid_token() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[!#-\\[\\]-~]{1,8}",
            1 => select(&["read", "write", "readadmin", "admin", "a", "b"][..]).prop_map(str::to_owned),
        ]
    }

    fn joined(
        ends: impl Strategy<Value = &'static str> + Clone,
        items: impl Strategy<Value = Vec<(String, &'static str)>>,
    ) -> impl Strategy<Value = String> {
        (ends.clone(), items, ends).prop_map(|(before, items, after)| {
            let mut list = before.to_owned();
            for (i, (token, separator)) in items.iter().enumerate() {
                if i > 0 {
                    list.push_str(separator);
                }
                list.push_str(token);
            }
            list.push_str(after);
            list
        })
    }

    /// A scope list: scope-tokens separated mostly by single spaces (the usual form), or any
    /// tokens with any separators and spaces at the ends, or random text.
    fn list() -> impl Strategy<Value = String> {
        let usual_gap = prop_oneof![30 => Just(" "), 1 => Just("  ")];
        let usual_end = prop_oneof![30 => Just(""), 1 => Just(" ")];
        let any_end = select(&["", "", "", " ", "  ", "\t"][..]);
        prop_oneof![
            4 => joined(usual_end, prop::collection::vec((valid_token(), usual_gap), 0..24)),
            4 => joined(any_end, prop::collection::vec((token(), separator()), 0..48)),
            1 => "[ -~\t]{0,300}",
            1 => any::<String>(),
        ]
    }

    fn scopes_agree(
        scope: Option<&str>,
        scp: Option<&[String]>,
        queries: &[String],
    ) -> Result<(), TestCaseError> {
        let got = Scopes::from_claims(scope, scp).ok();
        let Some(plain) = plain_claims(scope, scp) else {
            prop_assert!(got.is_none(), "accepted {:?} {:?}: {:?}", scope, scp, got);
            return Ok(());
        };
        let Some(got) = got else {
            return Err(TestCaseError::fail(format!("refused {scope:?} {scp:?}")));
        };
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), plain.clone());
        prop_assert_eq!(got.to_string(), plain.join(" "));
        prop_assert_eq!(got.is_empty(), plain.is_empty());
        prop_assert_eq!(&got, &Scopes::from_space_separated(&plain.join(" ")));
        for query in queries.iter().chain(&plain) {
            prop_assert_eq!(got.contains(query), plain.contains(query), "{:?}", query);
        }
        prop_assert_eq!(
            got.contains_all(queries.iter().map(String::as_str)),
            queries.iter().all(|q| plain.contains(q))
        );
        // A route's required scopes: configured when each is a scope-token, met when each is
        // granted.
        let required = crate::authz::Requirement::<()>::scopes(queries.iter().cloned());
        let valid = required.validate().is_ok();
        prop_assert_eq!(valid, queries.iter().all(|q| plain_token(q)));
        if valid {
            let met = queries.iter().all(|q| plain.contains(q));
            let roles = crate::Roles::default();
            prop_assert_eq!(required.check(&(), &got, &roles).is_ok(), met);
            let any = crate::authz::Requirement::<()>::any_scope(queries.iter().cloned());
            let met_any = queries.is_empty() || queries.iter().any(|q| plain.contains(q));
            prop_assert_eq!(any.check(&(), &got, &roles).is_ok(), met_any);
        }
        Ok(())
    }

    fn space_separated_agrees(list: &str, queries: &[String]) -> Result<(), TestCaseError> {
        let got = Scopes::from_space_separated(list);
        let plain: Vec<&str> = plain_items(list).collect();
        prop_assert_eq!(got.iter().collect::<Vec<_>>(), plain.clone());
        prop_assert_eq!(got.to_string(), plain.join(" "));
        prop_assert_eq!(got.is_empty(), plain.is_empty());
        for query in queries
            .iter()
            .map(String::as_str)
            .chain(plain.iter().copied())
        {
            prop_assert_eq!(got.contains(query), plain.contains(&query), "{:?}", query);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 2048,
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn scopes_match_the_plain_reading(
            scope in prop::option::weighted(0.9, list()),
            scp in prop::option::weighted(0.3, prop::collection::vec(list(), 0..3)),
            queries in prop::collection::vec(token(), 0..4),
        ) {
            scopes_agree(scope.as_deref(), scp.as_deref(), &queries)?;
            space_separated_agrees(scope.as_deref().unwrap_or_default(), &queries)?;
        }
    }

    /// The generator reaches every path: plain lists kept whole inline and on the heap, lists
    /// normalised on the way in, and refused lists.
    #[test]
    fn the_generator_reaches_every_path() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;

        let mut runner = TestRunner::deterministic();
        let mut counts = [0; 4];
        for _ in 0..1000 {
            let scope = list().new_tree(&mut runner).unwrap().current();
            let path = match (plain_scope_list(&scope), plain_claims(Some(&scope), None)) {
                (Some(Joined::Inline { .. }), _) => 0,
                (Some(Joined::Heap(_)), _) => 1,
                (None, Some(_)) => 2,
                (None, None) => 3,
            };
            counts[path] += 1;
        }
        assert!(counts.iter().all(|n| *n > 50), "{counts:?}");
    }

    #[test]
    fn adversarial_scope_strings() {
        let long_plain = (0..60)
            .map(|i| format!("scope-{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let fixed = [
            "",
            " ",
            "  ",
            "\t",
            "read",
            "read write",
            "read  write",
            " read",
            "read ",
            " read write ",
            "read\twrite",
            "read\u{a0}write",
            "read \"write\"",
            "read wr\\ite",
            "caf\u{e9}",
            "a!#[]~",
            "\u{21}\u{23}\u{5b}\u{5d}\u{7e}",
            "\u{20}\u{22}\u{5c}\u{7f}",
            "read readadmin admin read",
        ];
        let boundaries = [45, 46, 47, 254, 255, 256, 300].map(|len| "a".repeat(len));
        let spaced = [45, 46, 47, 255, 256].map(|len| format!("{} b", "a".repeat(len - 2)));
        let queries: Vec<String> = ["read", "write", "admin", "", " ", "a", "scope-59"]
            .map(str::to_owned)
            .to_vec();
        let all = fixed
            .iter()
            .map(|s| s.to_string())
            .chain(boundaries)
            .chain(spaced)
            .chain([long_plain]);
        for scope in all {
            scopes_agree(Some(&scope), None, &queries).unwrap();
            scopes_agree(None, Some(std::slice::from_ref(&scope)), &queries).unwrap();
            scopes_agree(
                Some("read"),
                Some(&[scope.clone(), "write".into()]),
                &queries,
            )
            .unwrap();
            scopes_agree(Some(&scope), Some(std::slice::from_ref(&scope)), &queries).unwrap();
            space_separated_agrees(&scope, &queries).unwrap();
        }
    }
}
