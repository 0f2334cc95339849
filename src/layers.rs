//! The layer rule as a test: every `crate::…` path in a file under `src/`
//! must name a module of a lower layer than the file's own (or its own
//! module). The order, bottom to top, is docs/architecture.md's:
//! `media` → `codec`, `mp4` → `stream` → `rendition`, `process`, `http` →
//! `rtc` → `source`, `output` → `server`. `error` and `sys` sit below all.
//!
//! It also checks what the layout promised in so many words: `rtc/` uses
//! nothing of `stream/`, `rendition/`, `process/` or `http/` (it is a
//! transport that knows no stream), no tokio in `media/`, and `AppState`
//! nowhere but `server/`. Test code (from a file's first `#[cfg(test)]` on,
//! and `*_tests.rs` files) may reach up to drive what it tests.

use std::path::{Path, PathBuf};

/// A top-level module's layer; `None` for a name that is not a module.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "error" | "sys" => 0,
        "media" => 1,
        "codec" => 2,
        "mp4" => 3,
        "stream" => 4,
        "rendition" | "process" | "http" => 5,
        "rtc" => 6,
        "source" | "output" => 7,
        "server" => 8,
        "lib" | "main" | "layers" => 9,
        _ => return None,
    })
}

/// Modules a module may not use although they sit lower.
fn forbidden(module: &str, used: &str) -> bool {
    module == "rtc" && matches!(used, "stream" | "rendition" | "process" | "http")
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let first = rel.components().next().expect("a path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// Every `.rs` file under `dir`, except the binaries' own folder.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() && !path.ends_with("bin") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a line, without a `//` comment (doc links may point anywhere).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The top-level modules named by `crate::X` paths in `line`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let before = line[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `framecast::` is not `crate::`
        }
        let rest = &line[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        out.push(name);
    }
    out
}

/// The lines of a file before its inline test module (`#[cfg(test)]` then
/// `mod … {`), numbered from 0. A `#[cfg(test)] mod x;` declaration does not
/// end the scan: that file is skipped by its `_tests.rs` name or checked.
fn non_test_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| {
            let next = w[1].trim();
            w[0].trim() == "#[cfg(test)]" && next.starts_with("mod ") && next.ends_with('{')
        })
        .unwrap_or(lines.len());
    lines.into_iter().take(end).enumerate()
}

/// Every breach of the rules in the tree under `src`, one line each.
fn breaches(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let module = module_of(src, &file);
        let Some(own) = rank(&module) else {
            out.push(format!(
                "{}: module {module:?} has no layer",
                file.display()
            ));
            continue;
        };
        if file.to_string_lossy().ends_with("_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (n, line) in non_test_lines(&text) {
            let at = || format!("{}:{}", file.display(), n + 1);
            let line = code(line);
            for used in crate_paths(line) {
                match rank(&used) {
                    // Root re-exports (`crate::Error` …) are checked where
                    // they are defined; a bare `crate::` is this test's text.
                    None if used.is_empty() || used.starts_with(char::is_uppercase) => {}
                    Some(r) if (r < own && !forbidden(&module, &used)) || used == module => {}
                    _ => out.push(format!("{}: {module} imports crate::{used}", at())),
                }
            }
            if module == "media" && line.contains("tokio") {
                out.push(format!("{}: media uses tokio", at()));
            }
            if module != "server" && module != "layers" && line.contains("AppState") {
                out.push(format!("{}: AppState outside server/", at()));
            }
        }
    }
    out
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = breaches(&src);
    assert!(
        found.is_empty(),
        "imports against the layer order:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_bad_import() {
    let dir = std::env::temp_dir().join(format!("framecast-layers-{}", std::process::id()));
    let rtc = dir.join("rtc");
    std::fs::create_dir_all(&rtc).unwrap();
    std::fs::write(
        rtc.join("mod.rs"),
        "use crate::stream::Stream; // a comment: crate::output\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("media.rs"),
        "use tokio::sync::watch;\nuse crate::error::Error;\n",
    )
    .unwrap();
    std::fs::write(dir.join("output.rs"), "use crate::server::AppState;\n").unwrap();
    let found = breaches(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|f| f.ends_with("media.rs:1: media uses tokio")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|f| f.contains("AppState outside server/")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("rtc imports crate::stream")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("output imports crate::server")),
        "{found:#?}"
    );
}
