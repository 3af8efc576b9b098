//! Profiles that are not UTF-8 text, or nest too deep, are refused at the byte
//! where that starts, as a class: properties over the shipped demo with one
//! non-UTF-8 byte at a random place, the demo in UTF-16 (either byte order, with
//! or without a byte order mark), and nesting of each kind (dotted keys, table
//! headers, arrays, inline tables) at a random depth past the limit. Each error
//! must start with `error: FILE:LINE:COL:` at exactly the place, and say why.
//! (The corpus, cli/tests/fixtures/invalid/encoding and nesting, holds examples.)

mod common;

use std::path::Path;

use meshgen::profile::{Layers, load};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

fn run<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut config = Config::with_cases(64);
    config.failure_persistence = None;
    match TestRunner::new(config).run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            panic!("property failed: {why}\nminimal input: {input:?}")
        }
        Err(e) => panic!("{e}"),
    }
}

fn demo() -> Vec<u8> {
    std::fs::read(common::repo().join("profiles/demo.toml")).unwrap()
}

/// The one error of loading `bytes` as a profile.
fn error_of(bytes: &[u8]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.toml");
    std::fs::write(&path, bytes).unwrap();
    let layers = Layers {
        profile: path.clone(),
        ..Default::default()
    };
    let diags = load(&layers).expect_err("refused");
    assert_eq!(diags.len(), 1, "{diags:?}");
    diags[0]
        .to_string()
        .replace(&path.display().to_string(), "p.toml")
}

/// `line:col` of byte `offset` (columns in characters, the bytes before valid UTF-8).
fn position(bytes: &[u8], offset: usize) -> String {
    let before = std::str::from_utf8(&bytes[..offset]).unwrap();
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    format!("{line}:{}", before[start..].chars().count() + 1)
}

#[test]
fn one_non_utf8_byte_is_refused_where_it_is() {
    let demo = demo();
    // Between two ASCII bytes, any byte from 0x80 up is not UTF-8.
    let places: Vec<usize> = (1..demo.len())
        .filter(|&i| demo[i - 1].is_ascii() && demo[i].is_ascii())
        .collect();
    run(
        (proptest::sample::select(places), 0x80u8..=0xff),
        |(at, byte)| {
            let mut bytes = demo.clone();
            bytes.insert(at, byte);
            let e = error_of(&bytes);
            let expected = format!("error: p.toml:{}: ", position(&bytes, at));
            prop_assert!(e.starts_with(&expected), "{e}\nexpected {expected}");
            prop_assert!(
                e.contains(&format!("byte 0x{byte:02X} is not UTF-8")),
                "{e}"
            );
            Ok(())
        },
    );
}

#[test]
fn utf16_is_refused_at_its_first_byte() {
    let demo = String::from_utf8(demo()).unwrap();
    run((any::<bool>(), any::<bool>()), |(big_endian, bom)| {
        let mut bytes = Vec::new();
        for unit in std::iter::once(0xfeff)
            .filter(|_| bom)
            .chain(demo.encode_utf16())
        {
            bytes.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        let e = error_of(&bytes);
        // Without a mark, the first NUL: the high byte of the first character.
        let at = if bom || big_endian { "1:1" } else { "1:2" };
        prop_assert!(e.starts_with(&format!("error: p.toml:{at}: ")), "{e}");
        prop_assert!(e.contains("UTF-16"), "{e}");
        Ok(())
    });
}

#[derive(Debug, Clone, Copy)]
enum Nest {
    DottedKey,
    TableHeader,
    Arrays,
    InlineTables,
}

#[test]
fn nesting_past_the_limit_is_refused_where_it_starts() {
    let demo = String::from_utf8(demo()).unwrap();
    let kinds = proptest::sample::select(vec![
        Nest::DottedKey,
        Nest::TableHeader,
        Nest::Arrays,
        Nest::InlineTables,
    ]);
    run((kinds, 33usize..5000), |(kind, depth)| {
        let names = vec!["k"; depth].join(".");
        let deep = match kind {
            Nest::DottedKey => format!("{names} = 1\n"),
            Nest::TableHeader => format!("[{names}]\n"),
            Nest::Arrays => format!("k = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
            Nest::InlineTables => format!("k = {}1{}\n", "{k = ".repeat(depth), "}".repeat(depth)),
        };
        // At the top of the file, so that the key is a top-level one.
        let text = format!("{deep}{demo}");
        // The character that passes the limit: the 32nd dot (the 31st in a header,
        // whose `[` counts), or the 32nd opening bracket.
        let col = match kind {
            Nest::DottedKey => 64,
            Nest::TableHeader => 63,
            Nest::Arrays => 36,
            Nest::InlineTables => 160,
        };
        let e = error_of(text.as_bytes());
        prop_assert!(e.starts_with(&format!("error: p.toml:1:{col}: ")), "{e}");
        prop_assert!(e.contains("nested deeper than 32 levels"), "{e}");
        Ok(())
    });
}

#[test]
fn the_shipped_profiles_are_within_every_limit() {
    for p in common::shipped_profiles() {
        let layers = Layers {
            profile: p.clone(),
            ..Default::default()
        };
        assert!(load(&layers).is_ok(), "{}", Path::new(&p).display());
    }
}
