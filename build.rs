//! Build script: turns the board profile named by `PCMKR_BOARD` into constants.
//!
//! In: `PCMKR_BOARD` (a name under `board/`, or a path to a `.toml` file; unset means no
//! board), that profile, the feature table of `Cargo.toml`, and Cargo's `TARGET`, `HOST` and
//! `CARGO_FEATURE_*` variables. Out: `$OUT_DIR/board_limits.rs`, included by `src/limits.rs`.
//! A profile with an unknown key, a limit `Limits::set` would refuse, or a target or feature
//! set other than this build's stops the build with a message naming the file and the fix.
//! Without a board the generated file overrides nothing: the defaults stay those of
//! `src/limits.rs`, byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

fn main() {
    println!("cargo::rerun-if-env-changed=PCMKR_BOARD");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    match run() {
        Ok(()) => {}
        // `cargo::error` fails the build after the script returns and shows only this line.
        Err(e) => println!("cargo::error={}", e.replace('\n', " ")),
    }
}

/// One board: what it differs in from the defaults (board/README.md has the keys).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Profile {
    /// Rust target triple; absent means the machine that builds.
    target: Option<String>,
    /// Cargo profile `cross/build` uses; read there, checked here.
    cargo_profile: Option<String>,
    /// Cargo features, defaults off; absent means the crate's defaults.
    features: Option<Vec<String>>,
    /// Flash budget for the stripped binary; `cross/build` fails above it.
    max_binary_bytes: Option<u64>,
    #[serde(default)]
    limits: LimitOverrides,
    #[serde(default)]
    paths: PathOverrides,
}

/// Overrides of `Limits`' defaults; the names are `TUNABLE`'s, in its order.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitOverrides {
    max_connections: Option<u64>,
    max_pending_handshakes: Option<u64>,
    max_pending_per_source: Option<u64>,
    max_message_bytes: Option<u64>,
    max_outbound_bytes: Option<u64>,
    max_xml_depth: Option<u64>,
    max_xml_elements: Option<u64>,
    max_xml_attributes: Option<u64>,
    max_key_bytes: Option<u64>,
    max_resources: Option<u64>,
    max_queued_operations: Option<u64>,
    max_recurring_operations: Option<u64>,
    max_children: Option<u64>,
    max_output_bytes: Option<u64>,
    handshake_timeout_ms: Option<u64>,
    signon_timeout_ms: Option<u64>,
    write_timeout_ms: Option<u64>,
}

/// Default locations a board moves (read-only firmware, a data partition elsewhere).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PathOverrides {
    authkey: Option<String>,
    sysconfig: Option<String>,
    logfile: Option<String>,
}

/// Whether a limit is a count of things or bytes (`usize`) or a time in milliseconds (`u64`).
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Count,
    Millis,
}

impl LimitOverrides {
    /// Every tunable with its unit and override, in `TUNABLE`'s order.
    fn entries(&self) -> [(&'static str, Unit, Option<u64>); 17] {
        use Unit::{Count, Millis};
        [
            ("max_connections", Count, self.max_connections),
            ("max_pending_handshakes", Count, self.max_pending_handshakes),
            ("max_pending_per_source", Count, self.max_pending_per_source),
            ("max_message_bytes", Count, self.max_message_bytes),
            ("max_outbound_bytes", Count, self.max_outbound_bytes),
            ("max_xml_depth", Count, self.max_xml_depth),
            ("max_xml_elements", Count, self.max_xml_elements),
            ("max_xml_attributes", Count, self.max_xml_attributes),
            ("max_key_bytes", Count, self.max_key_bytes),
            ("max_resources", Count, self.max_resources),
            ("max_queued_operations", Count, self.max_queued_operations),
            (
                "max_recurring_operations",
                Count,
                self.max_recurring_operations,
            ),
            ("max_children", Count, self.max_children),
            ("max_output_bytes", Count, self.max_output_bytes),
            ("handshake_timeout_ms", Millis, self.handshake_timeout_ms),
            ("signon_timeout_ms", Millis, self.signon_timeout_ms),
            ("write_timeout_ms", Millis, self.write_timeout_ms),
        ]
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env("OUT_DIR")?).join("board_limits.rs");
    let (name, profile) = match std::env::var("PCMKR_BOARD") {
        Ok(board) if !board.is_empty() => {
            let path = profile_path(&manifest_dir, &board);
            println!("cargo::rerun-if-changed={}", path.display());
            let profile = read_profile(&path)?;
            let cargo = CargoFeatures::read(&manifest_dir.join("Cargo.toml"))?;
            check_build_matches(&path, &profile, &cargo)?;
            (Some(board), profile)
        }
        _ => (None, Profile::default()),
    };
    let code = generate(name.as_deref(), &profile);
    std::fs::write(&out, code).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// `armv7-small` means `board/armv7-small.toml`; anything with a `/` or `.toml` is a path, so
/// an appliance keeps its own profile in its own tree.
fn profile_path(manifest_dir: &Path, board: &str) -> PathBuf {
    if board.contains('/') || board.ends_with(".toml") {
        PathBuf::from(board)
    } else {
        manifest_dir.join("board").join(format!("{board}.toml"))
    }
}

fn read_profile(path: &Path) -> Result<Profile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "PCMKR_BOARD: cannot read {}: {e} (boards are the files in board/)",
            path.display()
        )
    })?;
    let profile: Profile = toml::from_str(&text).map_err(|e| toml_error(path, &text, &e))?;
    let width: u32 = env("CARGO_CFG_TARGET_POINTER_WIDTH")?
        .parse()
        .map_err(|_| String::from("CARGO_CFG_TARGET_POINTER_WIDTH is not a number"))?;
    let usize_max = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    for (name, unit, value) in profile.limits.entries() {
        let Some(n) = value else { continue };
        // The same rules as `Limits::set`, so a profile can never hold a value the
        // `PCMK_remoted_limit_*` settings would refuse (a unit test in limits.rs re-checks).
        let (min, max) = match (name, unit) {
            ("max_message_bytes", _) => (64, u64::from(u32::MAX)),
            (_, Unit::Count) => (1, usize_max),
            (_, Unit::Millis) => (1, u64::MAX),
        };
        if n < min || n > max {
            return Err(format!(
                "{}: limits.{name} = {n} is out of range {min}..={max}",
                path.display()
            ));
        }
    }
    let paths = &profile.paths;
    for (key, value) in [
        ("authkey", &paths.authkey),
        ("sysconfig", &paths.sysconfig),
        ("logfile", &paths.logfile),
    ] {
        match value.as_deref() {
            None => {}
            // `none` means no settings file or no log file, as `--sysconfig none` does.
            Some("none") if key != "authkey" => {}
            Some(p) if p.starts_with('/') => {}
            Some(p) => {
                return Err(format!(
                    "{}: paths.{key} = {p:?} must be an absolute path",
                    path.display()
                ))
            }
        }
    }
    Ok(profile)
}

/// The `[features]` table of Cargo.toml, to expand and check a profile's feature list.
struct CargoFeatures {
    table: BTreeMap<String, Vec<String>>,
    profiles: BTreeSet<String>,
}

impl CargoFeatures {
    fn read(manifest: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(manifest)
            .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
        let doc: toml::Table =
            toml::from_str(&text).map_err(|e| toml_error(manifest, &text, &e))?;
        let mut table = BTreeMap::new();
        if let Some(features) = doc.get("features").and_then(toml::Value::as_table) {
            for (name, list) in features {
                let items = list
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)));
                table.insert(name.clone(), items.into_iter().flatten().collect());
            }
        }
        let mut profiles: BTreeSet<String> = ["dev", "release"].map(String::from).into();
        if let Some(p) = doc.get("profile").and_then(toml::Value::as_table) {
            profiles.extend(p.keys().cloned());
        }
        Ok(CargoFeatures { table, profiles })
    }

    /// `names` and every feature they switch on, without `dep:` entries and `_private` ones.
    fn closure(&self, names: &[String]) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = names.to_vec();
        // Bounded: each feature is expanded at most once and the table is finite.
        while let Some(f) = todo.pop() {
            if f.contains(':') || f.contains('/') || !seen.insert(f.clone()) {
                continue;
            }
            todo.extend(self.table.get(&f).into_iter().flatten().cloned());
        }
        seen.retain(|f| f != "default" && !f.starts_with('_') && self.table.contains_key(f));
        seen
    }

    /// Features a user may name: not `default`, not `_private`.
    fn user_features(&self) -> BTreeSet<String> {
        self.table
            .keys()
            .filter(|f| *f != "default" && !f.starts_with('_'))
            .cloned()
            .collect()
    }

    /// The user-facing features Cargo switched on for this build.
    fn enabled(&self) -> BTreeSet<String> {
        self.user_features()
            .into_iter()
            .filter(|f| {
                let var = format!("CARGO_FEATURE_{}", f.to_uppercase().replace('-', "_"));
                std::env::var_os(var).is_some()
            })
            .collect()
    }
}

/// A profile describes one build; building it for another target or with other features
/// would ship limits meant for a different board, so both must match.
fn check_build_matches(
    path: &Path,
    profile: &Profile,
    cargo: &CargoFeatures,
) -> Result<(), String> {
    let file = path.display();
    let target = env("TARGET")?;
    let wanted_target = match &profile.target {
        Some(t) => t.clone(),
        None => env("HOST")?,
    };
    if target != wanted_target {
        return Err(format!(
            "{file} is for target {wanted_target}, this build is for {target}; \
             build it with cross/build (or --target {wanted_target})"
        ));
    }
    if let Some(p) = &profile.cargo_profile {
        if !cargo.profiles.contains(p) {
            return Err(format!(
                "{file}: cargo_profile = {p:?} is not a profile of Cargo.toml (known: {})",
                join(&cargo.profiles)
            ));
        }
    }
    let known = cargo.user_features();
    for f in profile.features.iter().flatten() {
        if !known.contains(f) {
            return Err(format!(
                "{file}: unknown feature {f:?} (known: {})",
                join(&known)
            ));
        }
    }
    let listed = profile
        .features
        .clone()
        .unwrap_or_else(|| vec![String::from("default")]);
    let wanted = cargo.closure(&listed);
    let enabled = cargo.enabled();
    if wanted != enabled {
        return Err(format!(
            "{file} wants features [{}] but this build has [{}]; build it with cross/build \
             (or --no-default-features --features {})",
            join(&wanted),
            join(&enabled),
            listed.join(",")
        ));
    }
    Ok(())
}

/// Rust source for `limits::board`: one `Option` per tunable and path, documented so the
/// crate's `missing_docs` lint stays quiet.
fn generate(name: Option<&str>, profile: &Profile) -> String {
    let mut s = String::new();
    let source = name.map_or(String::from("no board: built-in defaults"), |n| {
        format!("board {n}")
    });
    let w = |s: &mut String, line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    w(
        &mut s,
        format!("// Generated by build.rs ({source}); do not edit."),
    );
    w(
        &mut s,
        String::from("/// The board profile this binary was built for (`PCMKR_BOARD`), if any."),
    );
    w(&mut s, format!("pub const NAME: Option<&str> = {name:?};"));
    w(
        &mut s,
        String::from("/// Limit names a profile may set, in the order of `TUNABLE`."),
    );
    let entries = profile.limits.entries();
    let names: Vec<String> = entries.iter().map(|(n, _, _)| format!("{n:?}")).collect();
    w(
        &mut s,
        format!("pub const NAMES: &[&str] = &[{}];", names.join(", ")),
    );
    let mut overrides = Vec::new();
    for (n, unit, value) in entries {
        let ty = if unit == Unit::Count { "usize" } else { "u64" };
        w(&mut s, format!("/// The profile's `{n}`, if it sets one."));
        w(
            &mut s,
            format!("pub const {}: Option<{ty}> = {value:?};", n.to_uppercase()),
        );
        if let Some(v) = value {
            overrides.push(format!("({n:?}, {v})"));
        }
    }
    w(
        &mut s,
        String::from(
            "/// Every override as (name, value), to check that `Limits::set` accepts it.",
        ),
    );
    w(
        &mut s,
        format!(
            "pub const OVERRIDES: &[(&str, u64)] = &[{}];",
            overrides.join(", ")
        ),
    );
    let p = &profile.paths;
    for (n, v, what) in [
        ("AUTHKEY", &p.authkey, "key file looked for first"),
        (
            "SYSCONFIG",
            &p.sysconfig,
            "settings file read instead of /etc/{sysconfig,default}/pacemaker",
        ),
        ("LOGFILE", &p.logfile, "default log file (`none` for none)"),
    ] {
        w(&mut s, format!("/// The board's {what}, if it moves it."));
        w(
            &mut s,
            format!("pub const {n}: Option<&str> = {:?};", v.as_deref()),
        );
    }
    w(
        &mut s,
        String::from("/// The board's flash budget for the binary, checked by cross/build."),
    );
    w(
        &mut s,
        format!(
            "pub const MAX_BINARY_BYTES: Option<u64> = {:?};",
            profile.max_binary_bytes
        ),
    );
    s
}

/// `file:line:column: message` on one line, as cargo shows a build script's error.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map_or(0, |s| s.start.min(text.len()));
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{}:{line}:{column}: {}", path.display(), e.message())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (is this run by cargo?)"))
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}
