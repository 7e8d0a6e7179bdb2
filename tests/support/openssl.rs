//! RSA keys for tests, made by the `openssl` command at test time: no key material is
//! committed, and every run signs with keys nobody else has.

use std::path::{Path, PathBuf};

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

/// A service-account key file for `project` whose `token_uri` is `token_uri` (a local fake, so
/// gcp_auth's real JWT-bearer grant runs without Google); returns its path and the key's PEM.
pub fn service_account_key(dir: &Path, project: &str, token_uri: &str) -> (PathBuf, String) {
    rsa_key(dir, "sa.pem");
    let pem = std::fs::read_to_string(dir.join("sa.pem")).expect("the new key");
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": format!("trigger@{project}.iam.gserviceaccount.com"),
        "client_id": "1",
        "token_uri": token_uri,
    });
    let path = dir.join("sa.json");
    std::fs::write(&path, key.to_string()).expect("write the key file");
    (path, pem)
}
