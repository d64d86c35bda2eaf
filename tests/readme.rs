//! The README stays true: its settings table lists every setting the code knows, and its opening
//! test command is the one CI runs.

use wazzup_gateway::SETTINGS;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md exists")
}

#[test]
fn the_settings_table_lists_every_setting() {
    let readme = readme();
    for setting in SETTINGS {
        for name in [setting.env, setting.file_key]
            .into_iter()
            .filter(|name| !name.is_empty())
        {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not document {name}"
            );
        }
    }
}

#[test]
fn ci_runs_the_test_command_the_readme_opens_with() {
    let readme = readme();
    let opening = readme
        .split("```")
        .nth(1)
        .expect("README opens with a code block");
    assert!(opening.contains("cargo run --release"), "{opening}");
    assert!(opening.contains("./scripts/test"), "{opening}");
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run"))
        .expect(".ci/run exists");
    assert!(
        ci.lines().any(|line| line.trim() == "exec ./scripts/test"),
        "{ci}"
    );
}
