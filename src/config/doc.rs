//! The documentation record of one setting, which every section declares for its own settings.

/// Documentation of one setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingDoc {
    /// Environment variable; empty for settings only the file can set. Per-account variables
    /// contain the `<NAME>` placeholder.
    pub env: &'static str,
    /// Key in the TOML file (`[]` marks an array of tables); empty for environment-only settings.
    pub file_key: &'static str,
    /// Default as written in the environment or file; empty when there is none.
    pub default: &'static str,
    /// One-line description.
    pub description: &'static str,
}

/// Returns the documentation of a setting only the configuration file can set.
pub(super) const fn file_only(
    file_key: &'static str,
    default: &'static str,
    description: &'static str,
) -> SettingDoc {
    SettingDoc {
        env: "",
        file_key,
        default,
        description,
    }
}
