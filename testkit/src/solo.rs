//! One test in a process of its own, inside a test binary that runs many.
//!
//! A test that measures the whole process (its resident memory, say) is only
//! right when no other test shares that process. [`run_alone`] runs such a
//! test again as a child process of the same test binary, filtered down to
//! that one test, and reports the child's result as the test's own.

use std::process::Command;

/// Set in the child to the name of the one test it runs.
const CHILD_ENV: &str = "FRAMECAST_SOLO_TEST";

/// Whether the calling test should run its body in this process.
///
/// Call it first thing in the test, with `module_path!()` and the test
/// function's name. In the child it returns `true`: run the body. Otherwise
/// it runs the test alone in a child process (`<name> --exact
/// --test-threads=1`), prints the child's output, panics if the child failed
/// or ran no test by that name, and returns `false`: the test is done.
pub fn run_alone(module_path: &str, test_fn: &str) -> bool {
    // The harness names a test by its path without the crate: `stall::name`.
    let name = match module_path.split_once("::") {
        Some((_crate, path)) => format!("{path}::{test_fn}"),
        None => test_fn.to_string(),
    };
    if std::env::var(CHILD_ENV).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &name)
        .output()
        .expect("the test binary starts again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {name}, run alone in a child process:\n{stdout}{stderr}");
    assert!(out.status.success(), "{name} failed in its own process");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child process ran no test named {name}"
    );
    false
}
