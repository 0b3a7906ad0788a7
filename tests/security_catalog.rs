//! `SECURITY.md` maps every case of the attack catalog to the tests that cover it, or to the
//! reason it does not apply. This test keeps the table honest:
//!
//! - every case id of the catalog appears in the table exactly once, and no other id does;
//! - every status is one of `tested`, `review`, `open`, `n/a`; a `tested` or `review` row names
//!   at least one function, an `n/a` row gives its reason, an `open` row says what is missing;
//! - every function a row names (`file::function`) is defined in that file, which exists under
//!   the crate (`src/` or `tests/`);
//! - the totals line under the table matches the rows.
//!
//! The catalog's ids are copied below from section 2 of the project's security notes, which
//! live outside the crate: a packaged crate has `SECURITY.md` and its tests, not the notes. A
//! missing `SECURITY.md` fails the test.

use std::collections::BTreeMap;
use std::path::{Component, Path};

/// Every case id of the catalog (section 2 of the security notes: A to K, then L).
const CATALOG: &[&str] = &[
    "A1", "A2", "A3", "A3b", "A3c", "A4", "A5", "A6", "A7", "A8", "A9", "A10", "A11",
    "A12", //
    "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", //
    "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", //
    "D1", "D2", "D3", "D4", "D5", "D6", "D7", //
    "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "E10", "E11", "E12", "E13", "E14",
    "E15", //
    "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13", //
    "G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10", "G11", "G12", "G13", "G14",
    "G15", //
    "H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "H9", "H10", "H11", "H12", "H13", //
    "I1", "I2", "I3", "I4", "I5", //
    "J1", "J2", "J3", "J4", "J5", "J6", //
    "K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8", //
    "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8",
];

/// The heading of the table's section in `SECURITY.md`.
const SECTION: &str = "## Attack catalog";

/// One row of the table.
struct Row {
    line: usize,
    status: String,
    tests: String,
    notes: String,
}

fn security_md() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("SECURITY.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()))
}

/// Whether a first cell looks like a case id: a capital letter, digits, maybe a lowercase
/// suffix (`A3b`). Such a cell must be a catalog id.
fn looks_like_an_id(cell: &str) -> bool {
    let mut chars = cell.chars();
    let letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    let rest = chars.as_str();
    let digits = rest.trim_end_matches(|c: char| c.is_ascii_lowercase());
    letter && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// The lines of the section under [`SECTION`], with their line numbers (1-based).
fn section(text: &str) -> Vec<(usize, &str)> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    assert!(
        lines.any(|(_, line)| line.trim_end() == SECTION),
        "SECURITY.md has no `{SECTION}` section"
    );
    lines
        .take_while(|(_, line)| !line.starts_with("## "))
        .collect()
}

/// The rows of the table by id; every problem found on the way goes to `problems`.
fn rows(section: &[(usize, &str)], problems: &mut Vec<String>) -> BTreeMap<String, Vec<Row>> {
    let mut rows: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for &(line, text) in section {
        let Some(inner) = text.trim().strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = inner
            .strip_suffix('|')
            .unwrap_or(inner)
            .split('|')
            .map(str::trim)
            .collect();
        if !looks_like_an_id(cells[0]) {
            continue;
        }
        let id = cells[0].to_owned();
        if !CATALOG.contains(&id.as_str()) {
            problems.push(format!("line {line}: {id} is not a case of the catalog"));
        }
        if cells.len() != 5 {
            problems.push(format!(
                "line {line}: {id} has {} cells, not 5 (ID, case, status, tests, notes)",
                cells.len()
            ));
            continue;
        }
        rows.entry(id).or_default().push(Row {
            line,
            status: cells[2].to_owned(),
            tests: cells[3].to_owned(),
            notes: cells[4].to_owned(),
        });
    }
    rows
}

/// The `file::function` references of a cell: its code spans that hold `.rs::`.
fn references(cell: &str) -> Vec<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.contains(".rs::"))
        .collect()
}

/// Why `reference` does not name a function defined in an existing file of the crate, if it
/// does not.
fn check_reference(reference: &str) -> Result<(), String> {
    let (file, function) = reference
        .split_once("::")
        .ok_or_else(|| format!("`{reference}` is not `file::function`"))?;
    let relative = Path::new(file);
    let inside = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        && (file.starts_with("src/") || file.starts_with("tests/"))
        && file.ends_with(".rs");
    if !inside {
        return Err(format!("`{file}` is not a .rs file under src/ or tests/"));
    }
    let is_identifier = function
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && function.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
    if !is_identifier {
        return Err(format!(
            "`{function}` in `{reference}` is not a function name"
        ));
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("`{file}`: {e}"))?;
    let defined = [format!("fn {function}("), format!("fn {function}<")]
        .iter()
        .any(|definition| text.contains(definition.as_str()));
    if defined {
        Ok(())
    } else {
        Err(format!("`{file}` defines no function `{function}`"))
    }
}

/// The number after `label` in the totals line, whose parts are separated by `/`.
fn total(line: &str, label: &str) -> Option<usize> {
    line.trim_start_matches("Totals:")
        .split('/')
        .map(str::trim)
        .find_map(|part| part.strip_prefix(label)?.trim().parse().ok())
}

#[test]
fn every_catalog_case_is_in_the_table_once_with_tests_that_exist() {
    let text = security_md();
    let section = section(&text);
    let mut problems = Vec::new();
    let rows = rows(&section, &mut problems);

    for id in CATALOG {
        match rows.get(*id).map(Vec::len) {
            None => problems.push(format!("{id} is not in the table")),
            Some(1) => {}
            Some(n) => {
                let lines: Vec<usize> = rows[*id].iter().map(|row| row.line).collect();
                problems.push(format!("{id} is in the table {n} times (lines {lines:?})"));
            }
        }
    }

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, row) in rows
        .iter()
        .filter(|(id, _)| CATALOG.contains(&id.as_str()))
        .flat_map(|(id, rows)| rows.iter().map(move |row| (id, row)))
    {
        let line = row.line;
        let named = references(&row.tests);
        for reference in &named {
            if let Err(problem) = check_reference(reference) {
                problems.push(format!("line {line}: {id}: {problem}"));
            }
        }
        let reason_given = row
            .tests
            .strip_prefix("n/a:")
            .is_some_and(|why| !why.trim().is_empty());
        match row.status.as_str() {
            "tested" | "review" if named.is_empty() => {
                problems.push(format!(
                    "line {line}: {id} is {} but names no function",
                    row.status
                ));
            }
            "n/a" if !reason_given => {
                problems.push(format!(
                    "line {line}: {id} is n/a but its tests cell gives no `n/a: reason`"
                ));
            }
            "open" if row.notes.is_empty() => {
                problems.push(format!(
                    "line {line}: {id} is open but says not what is missing"
                ));
            }
            "tested" | "review" | "n/a" | "open" => {}
            other => problems.push(format!(
                "line {line}: {id} has the unknown status {other:?}"
            )),
        }
        *counts.entry(row.status.as_str()).or_default() += 1;
    }

    // J1: the row points at the constant-time HMAC comparison in the crypto module.
    if let Some([row]) = rows.get("J1").map(Vec::as_slice) {
        let points_at_it = references(&row.tests).iter().any(|reference| {
            reference.starts_with("src/crypto/")
                && reference.split_once("::").is_some_and(|(file, _)| {
                    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                        .is_ok_and(|text| text.contains("hmac::verify("))
                })
        });
        if !points_at_it {
            problems.push("J1 names no function of src/crypto that calls hmac::verify".into());
        }
    }

    let count = |status: &str| counts.get(status).copied().unwrap_or(0);
    let expected = [
        ("handled and tested", count("tested") + count("review")),
        ("applicable", CATALOG.len() - count("n/a")),
        ("not applicable", count("n/a")),
        ("open", count("open")),
    ];
    match section.iter().find(|(_, line)| line.starts_with("Totals:")) {
        None => problems.push("there is no `Totals:` line under the table".into()),
        Some((line, totals)) => {
            for (label, value) in expected {
                if total(totals, label) != Some(value) {
                    problems.push(format!(
                        "line {line}: the totals should say `{label} {value}`: {totals:?}"
                    ));
                }
            }
        }
    }

    assert!(
        problems.is_empty(),
        "SECURITY.md's catalog table has {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_catalog_list_has_no_repeats() {
    let mut ids = CATALOG.to_vec();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CATALOG.len());
    assert_eq!(CATALOG.len(), 126);
}
