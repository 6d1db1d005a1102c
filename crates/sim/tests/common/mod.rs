//! Test-side file access: a [`sim::Resolver`] over a directory tree, resolving
//! paths relative to the scenario's folder the way esmini does (and falling
//! back to the corpus' resources folders), plus where the corpora live.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test crate uses a different part of this shared module"
)]

use std::path::{Path, PathBuf};

/// The corpora root: `$TWINSPACE_CORPORA` or `<workspace>/../shared/corpora`.
pub fn corpora() -> PathBuf {
    std::env::var_os("TWINSPACE_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"))
}

/// Reads files relative to a base directory, trying `fallbacks` (other folders)
/// by file name when the path as written does not exist.
pub struct DirResolver {
    pub base: PathBuf,
    pub fallbacks: Vec<PathBuf>,
}

impl DirResolver {
    fn find(&self, path: &str) -> Option<PathBuf> {
        let direct = self.base.join(path);
        if direct.exists() {
            return Some(direct);
        }
        let name = Path::new(path).file_name()?;
        self.fallbacks
            .iter()
            .map(|f| f.join(name))
            .find(|p| p.exists())
    }
}

impl sim::Resolver for DirResolver {
    fn read(&self, path: &str) -> Result<String, String> {
        let found = self
            .find(path)
            .ok_or_else(|| format!("not found relative to {}", self.base.display()))?;
        std::fs::read_to_string(&found).map_err(|e| format!("{}: {e}", found.display()))
    }

    fn list(&self, directory: &str) -> Result<Vec<String>, String> {
        let found = self
            .find(directory)
            .ok_or_else(|| format!("directory not found relative to {}", self.base.display()))?;
        let mut names: Vec<String> = std::fs::read_dir(&found)
            .map_err(|e| format!("{}: {e}", found.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A resolver for a scenario file inside the esmini corpus.
pub fn esmini_resolver(scenario: &Path, esmini_root: &Path) -> DirResolver {
    DirResolver {
        base: scenario.parent().map(Path::to_path_buf).unwrap_or_default(),
        fallbacks: vec![
            esmini_root.join("resources/xodr"),
            esmini_root.join("EnvironmentSimulator/Unittest/xodr"),
            esmini_root.join("resources/xosc/Catalogs"),
        ],
    }
}
