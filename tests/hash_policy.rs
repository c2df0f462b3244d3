//! The hashing policy holds (src/hash_key.rs): every hash table in the core (`wire`, `track`, `defense`, `filter`)
//! hashes under a `HashKey` passed in from the edge, never under a hasher the table picks for itself, and the keys
//! really key the tables.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use synscope::hash_key::HashKey;

const CORE: [&str; 4] = ["src/wire", "src/track", "src/defense", "src/filter"];

/// Ways a table gets a hasher of its own choosing (hashbrown's or std's default, seeded per process or not at all).
const UNKEYED: [&str; 9] = [
    "HashMap::new(",
    "HashMap::with_capacity(",
    "HashSet::new(",
    "HashSet::with_capacity(",
    "DefaultHashBuilder",
    "RandomState",
    "BuildHasherDefault",
    "FxHash",
    "FxBuildHasher",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            // Test folders build throwaway tables freely.
            if path.file_name().is_some_and(|name| name != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|name| name != "tests.rs" && name != "prop_tests.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn no_core_table_picks_its_own_hasher() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in CORE {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 40, "the core's files were found ({})", files.len());
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("reading a source file");
        // Only the code before a file's inline test module.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (number, line) in code.lines().enumerate() {
            let code_part = line.split("//").next().unwrap_or("");
            for pattern in UNKEYED {
                if code_part.contains(pattern) {
                    offences.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "tables in the core must hash under a HashKey passed in:\n{}", offences.join("\n"));
}

#[test]
fn the_tables_facing_attacker_keys_take_a_key() {
    // Each constructor below is called with a HashKey: if one stopped taking it, this would not compile.
    let key = HashKey::from_seed(14);
    let _ = synscope::track::Tracker::new(synscope::track::TrackerConfig::default(), key);
    let _ = synscope::track::table::FlowTable::new(16, key);
    let _ = synscope::track::flood_detector::FloodDetector::new(
        synscope::track::flood_detector::FloodConfig::default(),
        key,
    );
    let _ =
        synscope::defense::half_open::HalfOpenTable::new(synscope::defense::half_open::HalfOpenConfig::default(), key);
    let _ = synscope::defense::rate_limit::SourceRateLimiter::new(10.0, 10, 16, key);
    let _ = synscope::defense::proxy::ProxyTable::new(
        16,
        synscope::time::Duration::from_secs(60),
        synscope::time::Duration::from_secs(5),
        key,
    );
}

#[test]
fn different_keys_hash_the_same_tuple_differently() {
    // A flood's tuples: what lands together under one key is spread under another.
    let tuples: Vec<(u32, u16)> = (0..1000).map(|i| (0xc612_0000 + i, 40000)).collect();
    let buckets = |key: HashKey| tuples.iter().map(|t| key.hash_one(t) % 64).collect::<Vec<_>>();
    let (a, b) = (buckets(HashKey::from_seed(1)), buckets(HashKey::from_seed(2)));
    let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
    assert!(same < 60, "two keys put {same} of 1000 tuples in the same one of 64 buckets (chance: about 16)");
}
