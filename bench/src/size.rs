//! The release binary's size, as built and stripped, and an estimate of the runtime image:
//! the binary plus the distroless base it runs on.

use std::process::Command;

use anyhow::{Context as _, ensure};

use crate::harness::Bench;

/// distroless/static-debian12, "around 2 MiB" in the distroless README; the cc image adds the
/// packages in [`CC_IMAGE_PACKAGES`] to it.
const STATIC_IMAGE_BYTES: u64 = 2 * 1024 * 1024;
/// The Debian 12 packages gcr.io/distroless/cc-debian12 adds to the static image
/// (`base/config.bzl` and `cc/config.bzl` of GoogleContainerTools/distroless).
pub const CC_IMAGE_PACKAGES: [&str; 6] = [
    "libc6",
    "libssl3",
    "libgomp1",
    "libstdc++6",
    "libgcc-s1",
    "gcc-12-base",
];

pub struct SizeFigures {
    pub binary: u64,
    pub stripped: u64,
    pub base: Option<u64>,
}

pub fn size(bench: &Bench<'_>) -> anyhow::Result<SizeFigures> {
    let binary = std::fs::metadata(&bench.args.service)?.len();
    let stripped_path = bench.dir.path().join("stripped");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped_path)
        .arg(&bench.args.service)
        .status()
        .context("cannot run strip (binutils)")?;
    ensure!(status.success(), "strip failed");
    let stripped = std::fs::metadata(&stripped_path)?.len();
    let mut packages = 0;
    for package in CC_IMAGE_PACKAGES {
        let Some(kib) = installed_size_kib(package) else {
            return Ok(SizeFigures {
                binary,
                stripped,
                base: None,
            });
        };
        packages += kib * 1024;
    }
    Ok(SizeFigures {
        binary,
        stripped,
        base: Some(STATIC_IMAGE_BYTES + packages),
    })
}

/// `Installed-Size` of a Debian package, as apt-cache knows it.
fn installed_size_kib(package: &str) -> Option<u64> {
    let output = Command::new("apt-cache")
        .args(["show", "--no-all-versions", package])
        .output()
        .ok()?;
    String::from_utf8(output.stdout)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("Installed-Size:"))?
        .trim()
        .parse()
        .ok()
}
