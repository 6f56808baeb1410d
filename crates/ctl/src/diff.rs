//! The edit-config diff: plain unified diff when the output is not a
//! terminal; on a terminal, coloured as upstream's ydiff colours it and shown through the
//! pager (`$PAGER`, else `less`, else `more`), so a long diff can be read before confirming.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

const RESET: &str = "\x1b[0m";

/// Prints the unified diff of two YAML texts.
pub fn show(before: &str, after: &str) {
    let diff = similar::TextDiff::from_lines(before, after);
    let text = diff.unified_diff().header("", "").to_string();
    if !std::io::stdout().is_terminal() {
        print!("{text}");
        return;
    }
    let coloured = colour(&text);
    if !page(&coloured) {
        print!("{coloured}");
    }
}

/// ydiff's markup: file headers yellow, hunk headers light cyan, removed lines light red,
/// added lines green.
fn colour(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let code = if line.starts_with("---") || line.starts_with("+++") {
                "\x1b[33m"
            } else if line.starts_with("@@") {
                "\x1b[1;36m"
            } else if line.starts_with('-') {
                "\x1b[1;31m"
            } else if line.starts_with('+') {
                "\x1b[32m"
            } else {
                RESET
            };
            format!("{code}{line}{RESET}\n")
        })
        .collect()
}

/// Sends `text` through the first pager found; false when there is none or it failed.
fn page(text: &str) -> bool {
    let pager = [
        std::env::var("PAGER").ok(),
        Some("less".into()),
        Some("more".into()),
    ]
    .into_iter()
    .flatten()
    .find(|p| !p.is_empty() && on_path(p.split_whitespace().next().unwrap_or("")));
    let Some(pager) = pager else { return false };
    let child = Command::new("sh")
        .arg("-c")
        .arg(&pager)
        // less: pass colours through, quit when it fits one screen, leave it on the screen.
        .env("LESS", "FRX")
        .stdin(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may be quit before it has read everything (a broken pipe): not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().is_ok_and(|s| s.success())
}

/// Whether `program` is an executable file name found on `PATH` (or a path to a file).
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_coloured_by_kind() {
        let out = super::colour("--- \n+++ \n@@ -1 +1 @@\n-a: 1\n+a: 2\n b: 3\n");
        assert_eq!(
            out,
            "\x1b[33m--- \x1b[0m\n\x1b[33m+++ \x1b[0m\n\x1b[1;36m@@ -1 +1 @@\x1b[0m\n\x1b[1;31m-a: 1\x1b[0m\n\x1b[32m+a: 2\x1b[0m\n\x1b[0m b: 3\x1b[0m\n"
        );
    }
}
