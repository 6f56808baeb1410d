//! The `postgresql` keys that mean the same in the local and in the dynamic configuration,
//! written once for both tables (upstream merges the two `postgresql` sections, so a key it
//! honours in either place gets the same verdict in both).

use super::keys::{basebackup_only, Key, Off};

const REPLICA_METHODS_OFF: Off = Off::Check(basebackup_only, "remove it or list basebackup alone");
const REPLICA_METHODS: &str =
    "replicas would be cloned with pg_basebackup instead of the listed methods";

/// The `postgresql` section and the keys both tables give the same status.
pub const POSTGRESQL_SHARED: &[Key] = &[
    Key::section("postgresql"),
    Key::ok("postgresql.parameters"),
    Key::ok("postgresql.pg_hba"),
    Key::ok("postgresql.use_pg_rewind"),
    Key::ok("postgresql.pg_ctl_timeout"),
    Key::ok("postgresql.remove_data_directory_on_rewind_failure"),
    Key::ok("postgresql.remove_data_directory_on_diverged_timelines"),
    Key::refused(
        "postgresql.pg_ident",
        Off::Empty,
        "pg_ident.conf would stay empty, refusing connections that rely on its maps",
    ),
    Key::refused(
        "postgresql.create_replica_methods",
        REPLICA_METHODS_OFF,
        REPLICA_METHODS,
    ),
    Key::refused(
        "postgresql.create_replica_method",
        REPLICA_METHODS_OFF,
        REPLICA_METHODS,
    ),
    Key::refused(
        "postgresql.custom_conf",
        Off::Never,
        "PostgreSQL would run without that file's settings",
    ),
];
