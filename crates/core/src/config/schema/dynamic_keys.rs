//! Upstream Patroni 4.1's dynamic configuration keys (the DCS `/config` key, seeded from
//! `bootstrap.dcs`), relative to `/config`, and what patroni-rs does with each.

use super::keys::{
    is_one, is_zero, joined, no_commands, not_positive, standby_cluster_off, zero_duration, Key,
    Off,
};
use super::postgresql_keys::POSTGRESQL_SHARED;

const SYNC: &str = "replication would stay asynchronous";
const SLOTS: &str = "permanent replication slots would not be created nor kept across failovers";
const LOCAL_ONLY: &str =
    "a local setting: Patroni too ignores it in the dynamic configuration; set it in the local file";
const READ_LOCALLY: &str = "patroni-rs reads it only from the local configuration";

/// Keys of the dynamic configuration, relative to `/config`.
pub static DYNAMIC: &[Key] = joined!(&[TOP_LEVEL, POSTGRESQL_SHARED, POSTGRESQL_DYNAMIC]);

/// The keys outside `postgresql`.
const TOP_LEVEL: &[Key] = &[
    Key::ok("ttl"),
    Key::ok("loop_wait"),
    Key::ok("retry_timeout"),
    Key::ok("maximum_lag_on_failover"),
    Key::ok("check_timeline"),
    Key::ok("pause"),
    Key::ok("primary_start_timeout"),
    Key::ok("master_start_timeout"),
    Key::ok("primary_stop_timeout"),
    Key::ok("master_stop_timeout"),
    Key::refused("synchronous_mode", Off::False, SYNC),
    Key::refused(
        "synchronous_mode_strict",
        Off::False,
        "replication would stay asynchronous and writes would not stop without a synchronous standby",
    ),
    Key::refused(
        "synchronous_node_count",
        Off::Check(is_one, "remove it or set it to 1"),
        SYNC,
    ),
    Key::refused(
        "maximum_lag_on_syncnode",
        Off::Check(not_positive, "remove it or set it to -1"),
        SYNC,
    ),
    Key::refused(
        "failsafe_mode",
        Off::False,
        "the primary would be demoted whenever the DCS is unreachable, even with every member answering",
    ),
    Key::refused(
        "standby_cluster",
        Off::Check(
            standby_cluster_off,
            "remove it or leave host, port and restore_command empty",
        ),
        "this cluster would elect its own primary instead of replicating from the remote one",
    )
    .with_children(),
    Key::part("standby_cluster.host"),
    Key::part("standby_cluster.port"),
    Key::part("standby_cluster.primary_slot_name"),
    Key::part("standby_cluster.create_replica_methods"),
    Key::part("standby_cluster.restore_command"),
    Key::part("standby_cluster.archive_cleanup_command"),
    Key::part("standby_cluster.recovery_min_apply_delay"),
    Key::refused("slots", Off::Empty, SLOTS),
    Key::refused("permanent_slots", Off::Empty, SLOTS),
    Key::refused("permanent_replication_slots", Off::Empty, SLOTS),
    Key::refused(
        "ignore_slots",
        Off::Empty,
        "slots made outside Patroni would not be matched against it, so nothing would keep them once unknown slots are cleaned up",
    ),
    Key::refused(
        "member_slots_ttl",
        Off::Check(zero_duration, "remove it or set it to 0"),
        "slots of members that left would not be kept for that time",
    ),
    Key::warned(
        "max_timelines_history",
        Off::Check(is_zero, "remove it or set it to 0"),
        "/history keeps every timeline",
    ),
];

/// The `postgresql` keys only the dynamic configuration gives this status.
const POSTGRESQL_DYNAMIC: &[Key] = &[
    Key::ok("postgresql.recovery_conf"),
    Key::ok("postgresql.use_slots"),
    Key::warned("postgresql.basebackup", Off::Empty, READ_LOCALLY),
    Key::warned("postgresql.bin_dir", Off::Never, READ_LOCALLY),
    Key::warned("postgresql.bin_name", Off::Empty, READ_LOCALLY),
    Key::warned("postgresql.database", Off::Never, READ_LOCALLY),
    Key::warned("postgresql.use_unix_socket", Off::False, READ_LOCALLY),
    Key::warned("postgresql.use_unix_socket_repl", Off::False, READ_LOCALLY),
    Key::warned("postgresql.krbsrvname", Off::Never, READ_LOCALLY),
    Key::warned(
        "postgresql.config_base_name",
        Off::Is(&["postgresql"]),
        READ_LOCALLY,
    ),
    Key::refused(
        "postgresql.callbacks",
        Off::Check(no_commands, "set them in the local configuration"),
        "set in /config the scripts would not run: patroni-rs reads callbacks from the local file",
    )
    .with_children(),
    Key::part("postgresql.callbacks.on_start"),
    Key::part("postgresql.callbacks.on_stop"),
    Key::part("postgresql.callbacks.on_restart"),
    Key::part("postgresql.callbacks.on_reload"),
    Key::part("postgresql.callbacks.on_role_change"),
    Key::refused(
        "postgresql.pre_promote",
        Off::Never,
        "set in /config the fencing script would not run: patroni-rs reads it from the local file",
    ),
    Key::refused(
        "postgresql.before_stop",
        Off::Never,
        "set in /config the script would not run: patroni-rs reads it from the local file",
    ),
    Key::ignored("postgresql.listen", LOCAL_ONLY),
    Key::ignored("postgresql.connect_address", LOCAL_ONLY),
    Key::ignored("postgresql.proxy_address", LOCAL_ONLY),
    Key::ignored("postgresql.config_dir", LOCAL_ONLY),
    Key::ignored("postgresql.data_dir", LOCAL_ONLY),
    Key::ignored("postgresql.pgpass", LOCAL_ONLY),
    Key::ignored("postgresql.authentication", LOCAL_ONLY),
];
