//! `meshgen completions SHELL` and `meshgen man`, run by the real shells and
//! groff: the scripts parse, bash completes subcommands and flags, and the
//! manual page formats without a warning.

mod common;

use std::process::Command;

use common::meshgen;
use hop::testkit::tool;

fn script(shell: &str) -> String {
    let r = meshgen(&["completions", shell]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("meshgen"), "{}", r.stdout);
    r.stdout
}

/// What bash's completion offers for the words typed so far.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("meshgen.bash");
    std::fs::write(&file, script("bash")).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _meshgen meshgen '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let out = Command::new(tool("bash"))
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let subcommands = bash_complete(&["meshgen", ""]);
    for s in [
        "render",
        "validate",
        "schema",
        "up",
        "compare",
        "completions",
        "man",
    ] {
        assert!(
            subcommands.iter().any(|c| c == s),
            "{s} not in {subcommands:?}"
        );
    }
    let render = bash_complete(&["meshgen", "render", "--"]);
    for f in ["--output", "--set", "--check", "--templates"] {
        assert!(render.iter().any(|c| c == f), "{f} not in {render:?}");
    }
    let shells = bash_complete(&["meshgen", "completions", ""]);
    for s in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|c| c == s), "{s} not in {shells:?}");
    }
}

#[test]
fn every_script_parses_in_its_shell() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, check) in [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")] {
        let file = dir.path().join(format!("meshgen.{shell}"));
        std::fs::write(&file, script(shell)).unwrap();
        let out = Command::new(tool(shell))
            .arg(check)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} {check}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_manual_page_formats_cleanly() {
    let r = meshgen(&["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("meshgen.1");
    std::fs::write(&page, &r.stdout).unwrap();
    // -ww: every warning; -z: no output, only the diagnostics.
    let out = Command::new(tool("groff"))
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    let text = Command::new(tool("groff"))
        .args(["-man", "-Tascii", "-P", "-cbou"])
        .arg(&page)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for s in ["NAME", "SYNOPSIS", "render", "completions", "meshgen"] {
        assert!(text.contains(s), "{s} missing from the page:\n{text}");
    }
}

/// `meshgen man --dir DIR`: the main page and one per subcommand, each
/// formatting cleanly, so that every `meshgen-NAME(1)` a page points to exists.
#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet, as ~/.local/share/man/man1 on a fresh account.
    let man1 = dir.path().join("share/man/man1");
    let r = meshgen(&["man", "--dir", man1.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut pages: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for sub in [
        "render",
        "validate",
        "schema",
        "completions",
        "man",
        "up",
        "compare",
    ] {
        assert!(
            pages.contains(&format!("meshgen-{sub}.1")),
            "no meshgen-{sub}.1 in {pages:?}"
        );
    }
    assert!(pages.contains(&"meshgen.1".to_owned()), "{pages:?}");
    for page in &pages {
        let path = man1.join(page);
        let out = Command::new(tool("groff"))
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{page}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "{page}: groff warnings"
        );
        // Every page another one names is there.
        let roff = std::fs::read_to_string(&path).unwrap();
        for after in roff.split("meshgen\\-").skip(1) {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if after[name.len()..].starts_with("(1)") {
                assert!(
                    pages.contains(&format!("meshgen-{name}.1")),
                    "{page} names meshgen-{name}(1), which was not written: {pages:?}"
                );
            }
        }
    }
}
