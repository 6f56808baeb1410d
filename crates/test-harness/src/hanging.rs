//! A PostgreSQL whose start can be made to hang: a `bin_dir` with every program of Debian's
//! PostgreSQL, except that `postgres -D <dir>` started as a primary (no `standby.signal`) stays
//! in "starting" for ever while `<dir>.hang` exists (see [`crate::Node::hang_starts`]). It
//! models a crash recovery that never ends, which no real PostgreSQL does on demand; it also
//! ignores SIGQUIT, like a postmaster stuck in the kernel, so only SIGKILL stops it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::pg_bin_dir;

/// Makes `<dir>/bin` and returns it.
pub fn hanging_bin_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    let hang = bin.join("hang");
    std::fs::create_dir_all(&hang).expect("create the bin dir");
    let real = pg_bin_dir();
    for entry in std::fs::read_dir(&real).expect("read PostgreSQL's bin dir") {
        let entry = entry.expect("bin dir entry");
        let name = entry.file_name();
        if name != "postgres" {
            std::os::unix::fs::symlink(entry.path(), bin.join(&name)).expect("symlink");
        }
    }
    // A copy of sleep called `postgres`: its process name is what a postmaster's would be.
    std::fs::copy("/bin/sleep", hang.join("postgres")).expect("copy sleep");
    let script = format!(
        r#"#!/bin/sh
# A primary start (postgres -D DIR without DIR/standby.signal) hangs in "starting" while
# DIR.hang exists; anything else is the real one.
if [ "$1" = "-D" ] && [ -e "$2.hang" ] && [ ! -e "$2/standby.signal" ]; then
    printf '%s\n%s\n%s\n0\n/tmp\n*\n  0 0\nstarting\n' "$$" "$2" "$(date +%s)" > "$2/postmaster.pid"
    trap '' QUIT
    exec "{hang}" infinity
fi
exec "{real}" "$@"
"#,
        hang = hang.join("postgres").display(),
        real = real.join("postgres").display(),
    );
    let wrapper = bin.join("postgres");
    std::fs::write(&wrapper, script).expect("write the postgres wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the wrapper");
    bin
}
