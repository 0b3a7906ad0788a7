use super::*;

fn complete(json: &str) -> Option<Header<'_>> {
    serde_json::from_str(json).ok()
}

/// The flat scan either declines or agrees with the complete parse.
fn agrees(json: &str) -> bool {
    match Header::parse_flat(json) {
        None => true,
        Some(flat) => complete(json).as_ref() == Some(&flat),
    }
}

#[test]
fn the_usual_header_takes_the_flat_scan() {
    let json = r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#;
    let header = Header::parse_flat(json).expect("flat");
    assert_eq!(header.alg, "ES256");
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some("k1"));
    assert!(!header.crit && !header.forbidden);
    assert_eq!(Some(header), complete(json));

    let spaced = " \n{ \"alg\" : \"HS256\" ,\t\"x\":\"é\" }\r\n";
    let header = Header::parse_flat(spaced).expect("flat");
    assert_eq!(header.alg, "HS256");
    assert_eq!(Some(header), complete(spaced));
}

#[test]
fn flags_match_the_complete_parse() {
    for json in [
        r#"{"alg":"HS256","crit":"exp"}"#,
        r#"{"alg":"HS256","jku":"https://evil.example/jwks"}"#,
        r#"{"alg":"HS256","b64":"false"}"#,
        r#"{"alg":"HS256","x5u":""}"#,
    ] {
        let flat = Header::parse_flat(json).expect(json);
        assert!(flat.crit || flat.forbidden, "{json}");
        assert_eq!(Some(flat), complete(json), "{json}");
    }
}

#[test]
fn anything_unusual_goes_to_the_complete_parse() {
    for json in [
        "",
        "{}",
        "[]",
        r#"{"typ":"JWT"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"a"}"#,
        r#"{"alg":"HS\u0032256"}"#,
        r#"{"a\u006cg":"HS256"}"#,
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","n":1}"#,
        r#"{"alg":"HS256","n":null}"#,
        r#"{"alg":"HS256",}"#,
        r#"{"alg":"HS256"} x"#,
        r#"{"alg":"HS256"}}"#,
        r#"{"alg" "HS256"}"#,
        r#"{"alg":"HS256""typ":"JWT"}"#,
        "{\"alg\":\"HS\t256\"}",
        r#"{"alg":"HS256"#,
        r#"{"alg":"#,
        r#"{"alg"#,
        r#"{""#,
        "{",
        r#"{"1":"","2":"","3":"","4":"","5":"","6":"","7":"","8":"","alg":"HS256"}"#,
    ] {
        assert!(Header::parse_flat(json).is_none(), "{json}");
    }
    // The complete parse still reads what it accepts among those.
    assert_eq!(
        Header::parse(r#"{"alg":"HS\u0032256"}"#).map(|h| h.alg.into_owned()),
        Some("HS2256".to_owned())
    );
    assert!(Header::parse(r#"{"alg":"HS256","alg":"none"}"#).is_none());
    assert!(Header::parse(r#"{"alg":"HS256","crit":["exp"]}"#).is_some_and(|h| h.crit));
}

#[test]
fn the_flat_scan_never_disagrees_with_the_complete_parse() {
    // Usual headers as sequences of pieces, each mutated at random (pieces replaced,
    // inserted or dropped): the scan must decline or give exactly what the complete parse
    // gives, on the usual shapes and on every near miss.
    let pieces = [
        "{",
        "}",
        ",",
        ":",
        " ",
        "\"alg\"",
        "\"HS256\"",
        "\"typ\"",
        "\"kid\"",
        "\"crit\"",
        "\"jwk\"",
        "\"\"",
        "1",
        "\"\\n\"",
        "[",
        "]",
        "\"a\"",
        "\n",
        "\"é\"",
        "\"\u{1}\"",
    ];
    let usual: [&[usize]; 4] = [
        &[0, 5, 3, 6, 1],
        &[0, 5, 3, 6, 2, 7, 3, 16, 2, 8, 3, 18, 1],
        &[4, 0, 8, 3, 11, 2, 5, 4, 3, 4, 6, 17, 1, 4],
        &[0, 9, 3, 16, 2, 10, 3, 11, 2, 5, 3, 6, 1],
    ];
    // A deterministic walk (a linear congruential generator).
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |below: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % below
    };
    let (mut flat, mut declined) = (0, 0);
    for round in 0..100_000 {
        let mut sequence: Vec<usize> = usual.get(round % usual.len()).unwrap().to_vec();
        for _ in 0..next(3) {
            let at = next(sequence.len() + 1);
            match next(3) {
                0 if at < sequence.len() => sequence[at] = next(pieces.len()),
                1 => sequence.insert(at, next(pieces.len())),
                _ if at < sequence.len() => drop(sequence.remove(at)),
                _ => {}
            }
        }
        let json: String = sequence.iter().map(|i| pieces[*i]).collect();
        assert!(agrees(&json), "{json:?}");
        match Header::parse_flat(&json) {
            Some(_) => flat += 1,
            None => declined += 1,
        }
    }
    // The walk reaches both the scan's accepting path and its refusals.
    assert!(flat > 10_000, "{flat} headers took the flat scan");
    assert!(declined > 10_000, "{declined} headers were declined");
}

/// The flat scan against the complete serde parse on generated headers: every parameter the
/// layer reads, escapes, unicode, duplicates, whitespace, numbers, nested values, forbidden
/// parameters and `crit`, then every truncation and random byte mutations of each. The answer
/// of [`Header::parse`] must be exactly that of the complete parse (the same fields, or both
/// refuse), and where the scan accepts, it must agree on its own too.
mod differential {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::test_runner::Config;

    use crate::verify::jws::*;

    fn complete(json: &str) -> Option<Header<'_>> {
        serde_json::from_str(json).ok()
    }

    /// The check every input goes through.
    fn same_answer(json: &str) -> Result<(), TestCaseError> {
        let plain = complete(json);
        prop_assert_eq!(&Header::parse(json), &plain, "parse {:?}", json);
        if let Some(flat) = Header::parse_flat(json) {
            prop_assert_eq!(Some(flat), plain, "flat scan {:?}", json);
        }
        Ok(())
    }

    /// How a string is written out.
    #[derive(Clone, Copy, Debug)]
    enum Spelling {
        /// Between quotes as it is, even when that is not valid JSON (quotes, backslashes,
        /// control characters inside).
        Raw,
        /// Escaped as serde_json escapes it.
        Json,
        /// Every character as a `\u` escape (surrogate pairs beyond the BMP).
        Unicode,
        /// The first character as a `\u` escape, the rest raw.
        FirstEscaped,
    }

    fn spell(text: &str, spelling: Spelling) -> String {
        let unicode = |c: char| {
            let mut units = [0u16; 2];
            c.encode_utf16(&mut units)
                .iter()
                .map(|u| format!("\\u{u:04x}"))
                .collect::<String>()
        };
        match spelling {
            Spelling::Raw => format!("\"{text}\""),
            Spelling::Json => serde_json::to_string(text).unwrap(),
            Spelling::Unicode => format!("\"{}\"", text.chars().map(unicode).collect::<String>()),
            Spelling::FirstEscaped => {
                let mut chars = text.chars();
                let first = chars.next().map(unicode).unwrap_or_default();
                format!("\"{first}{}\"", chars.as_str())
            }
        }
    }

    fn spelling() -> impl Strategy<Value = Spelling> {
        // Mostly the spelling the scan reads, so that it accepts often.
        prop_oneof![
            6 => Just(Spelling::Raw),
            2 => Just(Spelling::Json),
            1 => Just(Spelling::Unicode),
            1 => Just(Spelling::FirstEscaped),
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => select(&["alg", "typ", "kid", "crit"][..]).prop_map(str::to_owned),
            2 => select(FORBIDDEN_HEADER).prop_map(str::to_owned),
            1 => select(&["ALG", "alg ", " alg", "al", "algg", "a\u{6c}g", "", "é", "\u{0}"][..])
                .prop_map(str::to_owned),
            2 => "[a-z0-9_]{0,5}",
            1 => "\\PC{0,4}",
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => select(&["HS256", "ES256", "RS256", "EdDSA", "none", "JWT", "at+jwt", "k1"][..])
                .prop_map(str::to_owned),
            2 => "[ -~]{0,12}",
            1 => "\\PC{0,6}",
            1 => "[\"\\\\/\u{0}-\u{1f}\u{7f}\u{80}\u{2028}\u{fffd}\u{1f600}a]{0,5}",
        ]
    }

    /// A member value: a string, or any other JSON value, or something that is not one.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => (text(), spelling()).prop_map(|(text, spelling)| spell(&text, spelling)),
            3 => select(&[
                "0", "1", "-1", "1.5e3", "-0", "1e999", "01", "1.", "null", "true", "false",
                "[]", "[\"exp\"]", "[\"b64\",1]", "{}", "{\"alg\":\"none\"}",
                "{\"a\":{\"b\":[1,\"}\",{\"c\":null}]}}", "[[[[]]]]", "\"\\ud83d\\ude00\"",
                "\"\\ud800\"", "\"\\udc00x\"", "\"\\x\"", "\"\\u12\"", "\"a", "'HS256'", "HS256",
                "nul", "tru", "[", "{", "\"\"",
            ][..])
            .prop_map(str::to_owned),
        ]
    }

    /// Whitespace, mostly what JSON allows, sometimes what it does not.
    fn gap() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            12 => Just(""),
            2 => select(&[" ", "\t", "\n", "\r\n", " \t \n "][..]),
            1 => select(&["\u{b}", "\u{c}", "\u{a0}", "\u{feff}", "\u{0}"][..]),
        ]
    }

    /// JSON whitespace only.
    fn json_gap() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            12 => Just(""),
            2 => select(&[" ", "\t", "\n", "\r\n", " \t \n "][..]),
        ]
    }

    /// A member as written: spelled name, value, and the four gaps around its tokens.
    type Member = (String, String, [&'static str; 4]);

    fn render((members, [before, inside, after]): (Vec<Member>, [&str; 3])) -> String {
        let mut json = format!("{before}{{{inside}");
        for (i, (name, value, [a, b, c, d])) in members.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&format!("{a}{name}{b}:{c}{value}{d}"));
        }
        json.push('}');
        json.push_str(after);
        json
    }

    /// A header close to the usual: a string `alg`, a few other members of the names the layer
    /// reads (repeats possible), JSON whitespace, strings mostly without escapes.
    fn usual() -> impl Strategy<Value = String> {
        let string = || (text(), spelling()).prop_map(|(text, spelling)| spell(&text, spelling));
        let alg = (
            Just("\"alg\"".to_owned()),
            string(),
            [json_gap(), json_gap(), json_gap(), json_gap()],
        );
        let other = (
            select(&["typ", "kid", "crit", "x5u", "jwk", "x", "kid2", "é"][..])
                .prop_map(|name| format!("\"{name}\"")),
            prop_oneof![6 => string(), 1 => value()],
            [json_gap(), json_gap(), json_gap(), json_gap()],
        );
        (alg, prop::collection::vec(other, 0..5))
            .prop_flat_map(|(alg, mut members)| {
                members.push(alg);
                Just(members).prop_shuffle()
            })
            .prop_flat_map(|members| (Just(members), [json_gap(), json_gap(), json_gap()]))
            .prop_map(render)
    }

    /// Any header: members of any name and value, repeats, gaps of any kind, up to more members
    /// than the scan keeps track of.
    fn wild() -> impl Strategy<Value = String> {
        let member = (
            (name(), spelling()).prop_map(|(name, spelling)| spell(&name, spelling)),
            value(),
            [gap(), gap(), gap(), gap()],
        );
        (prop::collection::vec(member, 0..11), [gap(), gap(), gap()]).prop_map(render)
    }

    fn header() -> impl Strategy<Value = String> {
        prop_oneof![usual(), wild()]
    }

    /// A byte mutation: replace, insert or drop a byte, at a position taken modulo the length.
    fn mutation() -> impl Strategy<Value = (u8, usize, u8)> {
        let byte = prop_oneof![
            3 => select(&b"{}[]:,\"\\ \t\n0aeu-+.\x00\x1f\x7f"[..]),
            1 => any::<u8>(),
        ];
        (0u8..3, any::<usize>(), byte)
    }

    fn mutate(json: &str, mutations: &[(u8, usize, u8)]) -> String {
        let mut bytes = json.as_bytes().to_vec();
        for &(op, at, byte) in mutations {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => drop(bytes.remove(at)),
                _ => {}
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn config(cases: u32) -> Config {
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        }
    }

    proptest! {
        #![proptest_config(config(1024))]

        #[test]
        fn generated_headers_their_truncations_and_mutations(
            json in header(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            same_answer(&json)?;
            for (at, _) in json.char_indices() {
                same_answer(&json[..at])?;
            }
            same_answer(&mutate(&json, &mutations))?;
        }

    }

    proptest! {
        #![proptest_config(config(2048))]

        #[test]
        fn random_strings(json in prop_oneof![
            "\\PC{0,40}",
            "[{}\\[\\]:,\" \\\\a-z0-9]{0,40}",
            any::<String>(),
        ]) {
            same_answer(&json)?;
        }
    }

    /// The generator reaches both paths: headers the scan takes, headers it leaves to the
    /// complete parse that the complete parse accepts, and headers both refuse.
    #[test]
    fn the_generator_reaches_every_path() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;

        let mut runner = TestRunner::deterministic();
        let (mut flat, mut complete_only, mut refused) = (0, 0, 0);
        for _ in 0..1000 {
            let json = header().new_tree(&mut runner).unwrap().current();
            match (Header::parse_flat(&json), complete(&json)) {
                (Some(_), _) => flat += 1,
                (None, Some(_)) => complete_only += 1,
                (None, None) => refused += 1,
            }
        }
        assert!(flat > 100, "{flat} {complete_only} {refused}");
        assert!(complete_only > 100, "{flat} {complete_only} {refused}");
        assert!(refused > 100, "{flat} {complete_only} {refused}");
    }

    #[test]
    fn adversarial_headers() {
        let many: String = (0..FLAT_MEMBERS + 2)
            .map(|i| format!("\"m{i}\":\"\","))
            .collect();
        let fixed = [
            "",
            " ",
            "{}",
            "[]",
            "null",
            "\"alg\"",
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#,
            " \n{ \"alg\" : \"HS256\" ,\t\"x\":\"é\" }\r\n",
            r#"{"typ":"JWT"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":1}"#,
            r#"{"alg":["HS256"]}"#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","a\u006cg":"none"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"a"}"#,
            r#"{"alg":"HS256","crit":"exp","crit":["exp"]}"#,
            r#"{"alg":"HS\u0032256"}"#,
            r#"{"a\u006cg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"\ud83d\ude00"}"#,
            r#"{"alg":"HS256","kid":"\ud800"}"#,
            r#"{"alg":"HS256","kid":"\/"}"#,
            "{\"alg\":\"HS256\",\"kid\":\"\u{1f600}\"}",
            "{\"alg\":\"HS256\",\"kid\":\"a\u{7f}\"}",
            "{\"alg\":\"HS\t256\"}",
            "{\"alg\":\"HS256\"}\u{0}",
            "{\"alg\":\"HS256\"}\u{a0}",
            "\u{feff}{\"alg\":\"HS256\"}",
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","crit":"exp"}"#,
            r#"{"alg":"HS256","jku":"https://evil.example/jwks"}"#,
            r#"{"alg":"HS256","jwk":{"kty":"oct","k":"AA"}}"#,
            r#"{"alg":"HS256","x5c":["MII"]}"#,
            r#"{"alg":"HS256","b64":false}"#,
            r#"{"alg":"HS256","n":1e999}"#,
            r#"{"alg":"HS256","n":-0.0e-0}"#,
            r#"{"alg":"HS256","n":01}"#,
            r#"{"alg":"HS256","n":{"a":[{"b":"}"}]}}"#,
            r#"{"alg":"HS256",}"#,
            r#"{,"alg":"HS256"}"#,
            r#"{"alg":"HS256"} x"#,
            r#"{"alg":"HS256"}}"#,
            r#"{"alg" "HS256"}"#,
            r#"{"alg"::"HS256"}"#,
            r#"{"alg":"HS256""typ":"JWT"}"#,
            r#"{"alg":"HS256"#,
            r#"{"alg":"#,
            r#"{"alg"#,
            r#"{""#,
            "{",
        ];
        let long = format!("{{{many}\"alg\":\"HS256\"}}");
        let long_duplicate = format!("{{{many}\"alg\":\"HS256\",\"m3\":\"\"}}");
        for json in fixed.iter().copied().chain([&*long, &*long_duplicate]) {
            same_answer(json).unwrap();
        }
    }
}
