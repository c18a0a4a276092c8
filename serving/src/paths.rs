//! One rule for every configuration file of every OathMesh server: a relative path written in a
//! file means "relative to the folder holding that file", never to the working directory (a
//! systemd unit, a test harness and an operator's shell all start in different places).

use std::path::{Path, PathBuf};

/// `path` if absolute, else `base_dir.join(path)`.
pub fn beside(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    }
}

/// Rewrites `path` in place with [`beside`].
pub fn resolve(base_dir: &Path, path: &mut PathBuf) {
    *path = beside(base_dir, path);
}

/// The folder a configuration file's relative paths resolve against.
pub fn folder_of(config_file: &Path) -> PathBuf {
    match config_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_sit_beside_the_file() {
        assert_eq!(
            beside(Path::new("/etc/oathmesh"), Path::new("tls/cert.pem")),
            Path::new("/etc/oathmesh/tls/cert.pem")
        );
        assert_eq!(
            beside(Path::new("/etc/oathmesh"), Path::new("/run/cert.pem")),
            Path::new("/run/cert.pem")
        );
        assert_eq!(folder_of(Path::new("issuer.toml")), Path::new("."));
        assert_eq!(folder_of(Path::new("/a/b.toml")), Path::new("/a"));
    }
}
