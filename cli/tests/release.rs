//! One version for the release: the workspace's (Cargo.toml), CHANGELOG.md's latest entry,
//! template.yaml's `SemanticVersion` and `webhook-cli --version` say the same, the template's
//! URLs are the manifest's `repository`, and LICENSE holds the MIT text the manifest names.
use std::path::PathBuf;
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A file at the workspace root.
fn read(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The version of the first `## [x.y.z] - date` heading, skipping `## [Unreleased]`.
fn latest_release(changelog: &str) -> Option<(&str, &str)> {
    changelog.lines().find_map(|line| {
        let rest = line.strip_prefix("## [")?;
        let (version, date) = rest.split_once("] - ")?;
        Some((version, date.trim()))
    })
}

/// Every value of `key:` in the template (a line `  ...key: value`, at any indent).
fn values<'a>(template: &'a str, key: &str) -> Vec<&'a str> {
    template
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
        .collect()
}

fn is_semver(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0')))
}

fn is_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

#[test]
fn the_helpers_read_what_they_claim() {
    let log = "# Changelog\n\n## [Unreleased]\n\n## [1.2.3] - 2026-01-02\n\n## [1.2.2] - 2025-12-01\n";
    assert_eq!(latest_release(log), Some(("1.2.3", "2026-01-02")));
    assert_eq!(latest_release("# Changelog\n## [Unreleased]\n"), None);
    assert_eq!(
        values("a:\n  SemanticVersion: 1.0.0\n    X: y\n", "SemanticVersion"),
        ["1.0.0"]
    );
    assert!(values("SemanticVersionX: 1\n", "SemanticVersion").is_empty());
    for good in ["0.2.0", "1.10.0", "10.0.1"] {
        assert!(is_semver(good), "{good}");
    }
    for bad in ["0.2", "0.2.0-rc1", "01.2.0", "1..0", "a.b.c"] {
        assert!(!is_semver(bad), "{bad}");
    }
    assert!(is_date("2026-12-06") && !is_date("2026-12-6") && !is_date("06.12.2026"));
}

#[test]
fn the_workspace_version_is_semver() {
    assert!(
        is_semver(VERSION),
        "Cargo.toml's [workspace.package] version {VERSION:?}"
    );
}

#[test]
fn the_changelog_s_latest_entry_is_this_version() {
    let changelog = read("CHANGELOG.md");
    let (version, date) = latest_release(&changelog).expect("CHANGELOG.md has a `## [x.y.z] - date` entry");
    assert_eq!(
        version, VERSION,
        "CHANGELOG.md's latest entry and Cargo.toml's version differ"
    );
    assert!(is_date(date), "the entry's date is YYYY-MM-DD: {date:?}");
    assert!(
        changelog.contains("## [Unreleased]"),
        "CHANGELOG.md keeps an [Unreleased] section for what is not released yet"
    );
}

#[test]
fn the_template_carries_this_version_and_the_repository() {
    let template = read("template.yaml");
    assert_eq!(
        values(&template, "SemanticVersion"),
        [VERSION],
        "template.yaml's SemanticVersion"
    );
    let repository = env!("CARGO_PKG_REPOSITORY");
    assert!(
        repository.starts_with("https://"),
        "Cargo.toml's repository: {repository:?}"
    );
    assert_eq!(values(&template, "HomePageUrl"), [repository]);
    assert_eq!(
        values(&template, "SourceCodeUrl"),
        [format!("{repository}/tree/v{VERSION}")],
        "the source of exactly this release"
    );
    assert_eq!(values(&template, "SpdxLicenseId"), [env!("CARGO_PKG_LICENSE")]);
}

#[test]
fn webhook_cli_version_prints_this_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_webhook-cli"))
        .arg("--version")
        .output()
        .expect("run webhook-cli --version");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("webhook-cli {VERSION}\n"));
}

#[test]
fn license_holds_the_mit_text_the_manifest_names() {
    assert_eq!(env!("CARGO_PKG_LICENSE"), "MIT");
    let text = read("LICENSE");
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.starts_with("MIT License Copyright (c) "), "{words}");
    for sentence in [
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and \
         associated documentation files (the \"Software\"), to deal in the Software without restriction,",
        "The above copyright notice and this permission notice shall be included in all copies or substantial \
         portions of the Software.",
        "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,",
        "ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.",
    ] {
        assert!(words.contains(sentence), "LICENSE lacks the MIT text: {sentence:?}");
    }
}
