//! `hookbr keygen`: an RSA key pair for local Grafeno simulation ([`hookbr_sim::keygen`]),
//! written to two files.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::{Failure, print_line};

/// `hookbr keygen` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The key size in bits: 2048 (Grafeno's registration webhooks) or 4096 (its charge
    /// webhooks).
    #[arg(long, value_name = "2048|4096", default_value_t = 2048)]
    bits: usize,
    /// Where to write: PREFIX.key.pem (the private key, PKCS#8, mode 0600: keep it secret) and
    /// PREFIX.pub.pem (the public key, SPKI, for hookbr's Grafeno verifier).
    #[arg(long, value_name = "PREFIX", default_value = "grafeno-sim")]
    out: PathBuf,
    /// Overwrite existing files (without it, keygen refuses and exits 2).
    #[arg(long)]
    force: bool,
    /// Instead of an RSA pair, print a new inbox encryption key (32 random bytes, base64) for
    /// `[inbox] encryption_key`: put it in the variable or file the configuration names.
    #[arg(long, conflicts_with_all = ["bits", "out", "force"])]
    inbox_key: bool,
}

/// `hookbr keygen --inbox-key`: 32 bytes from the system's CSPRNG, base64, on stdout.
fn inbox_key() -> Result<(), Failure> {
    use base64::Engine as _;
    use ring::rand::SecureRandom as _;
    let mut key = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| Failure::runtime("no random bytes available"))?;
    print_line(&base64::engine::general_purpose::STANDARD.encode(key));
    Ok(())
}

/// `PREFIX` + `suffix` (`grafeno-sim` → `grafeno-sim.key.pem`).
fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut path = prefix.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// Writes `contents` to `path` atomically, readable by the owner only when `private`. Without
/// `force`, an existing file is an error.
fn write(path: &Path, contents: &str, private: bool, force: bool) -> Result<(), Failure> {
    hookbr_sim::files::write_atomic(path, contents.as_bytes(), private, force).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            exists(path)
        } else {
            Failure::usage(format!("cannot write {}: {error}", path.display()))
        }
    })
}

fn exists(path: &Path) -> Failure {
    Failure::usage(format!(
        "{} already exists: pass --force to overwrite it, or choose another --out",
        path.display()
    ))
}

/// Runs `hookbr keygen`.
pub(crate) fn run(args: &Args) -> Result<(), Failure> {
    if args.inbox_key {
        return inbox_key();
    }
    let private_path = with_suffix(&args.out, ".key.pem");
    let public_path = with_suffix(&args.out, ".pub.pem");
    if !args.force {
        for path in [&private_path, &public_path] {
            if path.symlink_metadata().is_ok() {
                return Err(exists(path));
            }
        }
    }
    if args.bits > 2048 {
        let _ = writeln!(
            std::io::stderr().lock(),
            "hookbr: generating a {}-bit RSA key: this can take a few seconds",
            args.bits
        );
    }
    let pair = hookbr_sim::keygen::generate(args.bits)?;
    write(&private_path, &pair.private_pem, true, args.force)?;
    write(&public_path, &pair.public_pem, false, args.force)?;
    let (private, public) = (private_path.display(), public_path.display());
    print_line(&format!(
        "private key: {private}  (secret: signs like Grafeno)"
    ));
    print_line(&format!("public key:  {public}"));
    print_line(&format!(
        "hint: hookbr send grafeno URL --private-key {private}; in hookbr.toml: public_keys = \
         [\"file:{public}\"]"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_sizes_are_usage_errors() {
        for bits in [0, 1024, 3072, 8192] {
            let error = Failure::from(hookbr_sim::keygen::generate(bits).unwrap_err());
            assert_eq!(error.code, 2);
            assert!(error.message.contains("2048 or 4096"), "{}", error.message);
        }
    }

    #[test]
    fn suffixes_append_to_the_prefix() {
        assert_eq!(
            with_suffix(Path::new("dir/grafeno-sim"), ".key.pem"),
            PathBuf::from("dir/grafeno-sim.key.pem")
        );
    }

    #[test]
    fn write_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write(&path, "one", true, false).unwrap();
        let error = write(&path, "two", true, false).unwrap_err();
        assert_eq!(error.code, 2);
        assert!(error.message.contains("already exists"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        write(&path, "three", true, true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
