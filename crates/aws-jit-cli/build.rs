//! Stamps `aws-jit --version` with the commit, its date and the target triple. Outside a
//! git checkout (a source tarball, a Docker build without `.git`) they read `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    // A build without `.git` (the image) is told by its builder (`--build-arg`).
    let given = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let commit = given("AWS_JIT_COMMIT")
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // The commit's date, not the build's: the same commit builds the same version line.
    let date = given("AWS_JIT_COMMIT_DATE")
        .or_else(|| git(&["log", "-1", "--format=%cs"]))
        .unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=AWS_JIT_LONG_VERSION={version} (commit {commit}, {date}, {target})");
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let mut watched = vec![format!("{dir}/HEAD")];
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(format!("{dir}/{head}"));
        }
        // A ref that is only packed has no file to watch (and a missing one would rebuild
        // every time).
        for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AWS_JIT_COMMIT");
    println!("cargo:rerun-if-env-changed=AWS_JIT_COMMIT_DATE");
}
