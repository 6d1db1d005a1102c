//! `twinspace models validate DIR` (check a folder of DTDL files as one batch,
//! offline, printing every problem) and `twinspace models import DIR --url URL
//! --token T` (upload the folder as one batch to a running server).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use model::{ModelSet, ModelSource};
use serde_json::Value;

use crate::client::{Remote, RemoteArgs};

/// Most files one folder may hold: bounds memory and the walk itself.
const MODEL_FILES_MAX: usize = 100_000;
/// Deepest folder nesting walked.
const FOLDER_DEPTH_MAX: usize = 32;

#[derive(Subcommand)]
pub(crate) enum ModelsCommand {
    /// Check every .json file under DIR as one batch; exit 1 if any problem.
    Validate {
        /// The folder of DTDL files.
        dir: PathBuf,
    },
    /// Upload every .json file under DIR as one batch (POST /models).
    Import {
        /// The folder of DTDL files.
        dir: PathBuf,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Every `.json` file under `dir`, sorted, so batches and messages are stable.
pub(crate) fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((folder, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read the folder {}", folder.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if depth + 1 > FOLDER_DEPTH_MAX {
                    bail!(
                        "{} is nested more than {FOLDER_DEPTH_MAX} folders deep",
                        path.display()
                    );
                }
                stack.push((path, depth + 1));
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                files.push(path);
                if files.len() > MODEL_FILES_MAX {
                    bail!(
                        "{} holds more than {MODEL_FILES_MAX} .json files",
                        dir.display()
                    );
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

fn read_sources(dir: &Path) -> Result<Vec<ModelSource>> {
    let files = json_files(dir)?;
    if files.is_empty() {
        bail!("{} holds no .json files", dir.display());
    }
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let name = path.strip_prefix(dir).unwrap_or(path).display().to_string();
            Ok(ModelSource { name, text })
        })
        .collect()
}

pub(crate) fn run(command: ModelsCommand) -> Result<ExitCode> {
    match command {
        ModelsCommand::Validate { dir } => {
            let sources = read_sources(&dir)?;
            let mut set = ModelSet::new();
            match set.add(&sources) {
                Ok(ids) => {
                    println!("{} files, {} interfaces: valid", sources.len(), ids.len());
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    for problem in &problems.0 {
                        println!("{problem}");
                    }
                    println!("{} problem(s) in {} files", problems.0.len(), sources.len());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        ModelsCommand::Import { dir, remote } => {
            let sources = read_sources(&dir)?;
            let mut batch = Vec::new();
            for source in &sources {
                let text = source.text.strip_prefix('\u{feff}').unwrap_or(&source.text);
                let value: Value = serde_json::from_str(text)
                    .with_context(|| format!("{} is not valid JSON", source.name))?;
                match value {
                    Value::Array(items) => batch.extend(items),
                    other => batch.push(other),
                }
            }
            let count = batch.len();
            let remote = Remote::new(remote)?;
            let created = remote.send("POST", "/models", Some(&Value::Array(batch)))?;
            let stored = created.as_array().map_or(0, Vec::len);
            println!(
                "uploaded {count} interfaces from {} files; the server stored {stored}",
                sources.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
