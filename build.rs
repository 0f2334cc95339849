//! Records whether `nasm` was on PATH at build time: openh264 uses its
//! assembly (about 3x faster) only then, and framecast says so at start-up.
fn main() {
    let nasm = std::process::Command::new("nasm")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    println!(
        "cargo:rustc-env=FRAMECAST_BUILT_WITH_NASM={}",
        if nasm { "1" } else { "0" }
    );
    println!("cargo:rerun-if-env-changed=PATH");
}
