//! RSA keys for tests, made by the `openssl` command at test time: no key material is
//! committed, and every run signs with keys nobody else has.

use std::path::Path;

/// Runs `openssl` in `dir`, panicking with the arguments when it fails.
pub fn openssl(args: &[&str], dir: &Path) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success(), "openssl {args:?}");
}

/// Writes a new 2048-bit RSA private key (PKCS#8 PEM) to `dir/name`.
pub fn rsa_key(dir: &Path, name: &str) {
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            name,
        ],
        dir,
    );
}
