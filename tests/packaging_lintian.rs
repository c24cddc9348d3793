//! The Debian package passes lintian: built on the host from this tree
//! (`packaging/deb/build`, as the kernel tests build it), no error and no
//! warning, except the tags overridden in `packaging/lintian/lvsd`, each
//! with a comment saying why.

use std::process::Command;

#[test]
fn the_debian_package_has_no_lintian_errors_or_unjustified_warnings() {
    let top = env!("CARGO_MANIFEST_DIR");
    let build = Command::new(format!("{top}/packaging/deb/build"))
        .arg(env!("CARGO_BIN_EXE_lvsd"))
        .output()
        .expect("packaging/deb/build runs");
    assert!(
        build.status.success(),
        "packaging/deb/build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let deb = format!("{top}/{}", String::from_utf8_lossy(&build.stdout).trim());

    // --pedantic shows every tag; only E: and W: fail the package.
    let out = Command::new("lintian")
        .args(["--pedantic", "--display-info", "--show-overrides", &deb])
        .output()
        .expect("lintian is installed (integration/deps.txt)");
    let text = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(bad.is_empty(), "lintian on {deb}:\n{text}");
    // lintian exits 2 when it could not check at all (not a package...).
    assert_ne!(out.status.code(), Some(2), "{text}");

    // Every override is in the package and has its reason above it.
    let contents = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&contents.stdout).contains("./usr/share/lintian/overrides/lvsd")
    );
    let overrides = std::fs::read_to_string(format!("{top}/packaging/lintian/lvsd")).unwrap();
    let mut last = "";
    for line in overrides.lines() {
        if line.starts_with("lvsd:") {
            assert!(last.starts_with('#'), "override without a comment: {line}");
            // An override that matches nothing hides nothing and is stale.
            let tag = line
                .trim_start_matches("lvsd:")
                .split_whitespace()
                .next()
                .unwrap();
            assert!(
                text.contains(&format!("O: lvsd: {tag}")),
                "unused override {tag}:\n{text}"
            );
        }
        last = line;
    }
}
