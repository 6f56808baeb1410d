//! Upstream Patroni 4.1's local configuration keys (the YAML file and `PATRONI_*` variables)
//! and what patroni-rs does with each. docs/configuration-keys.md is the readable form of
//! these tables; a test keeps the two in step.

use super::dcs_keys::{CONSUL, ETCD, EXHIBITOR, KUBERNETES, RAFT, ZOOKEEPER};
use super::dynamic_keys::DYNAMIC;
use super::keys::{bootstrap_method_off, joined, watchdog_off, Key, Off};
use super::postgresql_keys::POSTGRESQL_SHARED;

const REST_TLS: &str = "TLS for the REST API is not built yet: it would serve plain HTTP";
const CTL_TLS: &str =
    "TLS to the REST API is not built yet: requests would go over plain HTTP without it";
const PG_TLS: &str =
    "connections to PostgreSQL would be made without it (sslmode=prefer, no client certificate)";
const DYNAMIC_ONLY: &str =
    "Patroni too takes it only from the dynamic configuration: set it under bootstrap.dcs.postgresql";
const OLD_LAYOUT: &str =
    "pre-1.0 layout, read by Patroni only without postgresql.authentication, which patroni-rs requires";

/// Keys of the local configuration, relative to its root.
pub static LOCAL: &[Key] = joined!(&[BEFORE_POSTGRESQL, POSTGRESQL_SHARED, AFTER_POSTGRESQL]);

/// The keys before `postgresql`.
const BEFORE_POSTGRESQL: &[Key] = &[
    Key::ok("name"),
    Key::ok("scope"),
    Key::ok("namespace"),
    Key::warned(
        "thread_pool_size",
        Off::Never,
        "patroni-rs sizes its own worker pool",
    ),
    Key::warned(
        "thread_stack_size",
        Off::Never,
        "patroni-rs keeps its default thread stacks",
    ),
    // log
    Key::section("log"),
    Key::ok("log.level"),
    Key::ok("log.type"),
    Key::warned(
        "log.traceback_level",
        Off::Is(&["ERROR"]),
        "patroni-rs prints no Python tracebacks",
    ),
    Key::ok("log.format"),
    Key::ok("log.dateformat"),
    Key::ok("log.static_fields"),
    Key::warned(
        "log.max_queue_size",
        Off::Never,
        "patroni-rs writes log lines without a queue",
    ),
    Key::ok("log.dir"),
    Key::ok("log.file_num"),
    Key::ok("log.file_size"),
    Key::ok("log.mode"),
    Key::ok("log.loggers"),
    Key::ok("log.deduplicate_heartbeat_logs"),
    // ctl
    Key::section("ctl"),
    Key::section("ctl.authentication"),
    Key::ok("ctl.authentication.username"),
    Key::ok("ctl.authentication.password"),
    Key::warned(
        "ctl.auth",
        Off::Never,
        "requests to other members go without these credentials; use ctl.authentication",
    ),
    Key::refused_ctl("ctl.insecure", Off::False, CTL_TLS),
    Key::refused_ctl("ctl.cacert", Off::Never, CTL_TLS),
    Key::refused_ctl("ctl.certfile", Off::Never, CTL_TLS),
    Key::refused_ctl("ctl.keyfile", Off::Never, CTL_TLS),
    Key::refused_ctl("ctl.keyfile_password", Off::Never, CTL_TLS),
    // restapi
    Key::section("restapi"),
    Key::ok("restapi.listen"),
    Key::ok("restapi.connect_address"),
    Key::section("restapi.authentication"),
    Key::ok("restapi.authentication.username"),
    Key::ok("restapi.authentication.password"),
    Key::refused(
        "restapi.auth",
        Off::Never,
        "the unsafe REST endpoints would accept requests without credentials; use restapi.authentication",
    ),
    Key::refused("restapi.certfile", Off::Never, REST_TLS),
    Key::refused("restapi.keyfile", Off::Never, REST_TLS),
    Key::refused("restapi.keyfile_password", Off::Never, REST_TLS),
    Key::refused("restapi.cafile", Off::Never, REST_TLS),
    Key::refused("restapi.ciphers", Off::Never, REST_TLS),
    Key::refused(
        "restapi.verify_client",
        Off::Is(&["none"]),
        "client certificates would not be checked",
    ),
    Key::refused(
        "restapi.allowlist",
        Off::Empty,
        "the REST API would answer requests from any address",
    ),
    Key::refused(
        "restapi.allowlist_include_members",
        Off::False,
        "the REST API would answer requests from any address",
    ),
    Key::warned(
        "restapi.http_extra_headers",
        Off::Empty,
        "these headers are not added to REST responses",
    ),
    Key::part("restapi.https_extra_headers"),
    Key::warned(
        "restapi.request_queue_size",
        Off::Never,
        "patroni-rs does not bound its accept queue by it",
    ),
    Key::warned(
        "restapi.server_tokens",
        Off::Is(&["original"]),
        "the Server header stays as it is",
    ),
    Key::warned(
        "restapi.thread_pool_size",
        Off::Never,
        "patroni-rs does not limit concurrent REST requests by it",
    ),
    // bootstrap
    Key::section("bootstrap"),
    Key::ok("bootstrap.dcs").with_table(DYNAMIC),
    Key::refused(
        "bootstrap.method",
        Off::Check(bootstrap_method_off, "remove it or set it to initdb"),
        "the custom bootstrap command would not run: initdb would create an empty cluster instead",
    ),
    Key::ok("bootstrap.initdb"),
    Key::ok("bootstrap.pg_hba"),
    Key::ok("bootstrap.post_bootstrap"),
    Key::ok("bootstrap.post_init"),
    Key::ignored(
        "bootstrap.users",
        "removed in Patroni 4.0, which ignores it too; create users in bootstrap.post_bootstrap",
    ),
];

/// The `postgresql` keys only the local configuration gives this status, and the sections
/// after `postgresql`.
const AFTER_POSTGRESQL: &[Key] = &[
    // Local only: the dynamic table refuses them (docs/callbacks.md).
    Key::section("postgresql.callbacks"),
    Key::ok("postgresql.callbacks.on_start"),
    Key::ok("postgresql.callbacks.on_stop"),
    Key::ok("postgresql.callbacks.on_restart"),
    Key::ok("postgresql.callbacks.on_reload"),
    Key::ok("postgresql.callbacks.on_role_change"),
    Key::ok("postgresql.pre_promote"),
    Key::ok("postgresql.before_stop"),

    Key::ok("postgresql.listen"),
    Key::ok("postgresql.connect_address"),
    Key::ok("postgresql.data_dir"),
    Key::ok("postgresql.config_dir"),
    Key::ok("postgresql.bin_dir"),
    Key::section("postgresql.bin_name"),
    Key::ok("postgresql.bin_name.pg_ctl"),
    Key::ok("postgresql.bin_name.initdb"),
    Key::ok("postgresql.bin_name.pg_controldata"),
    Key::ok("postgresql.bin_name.pg_basebackup"),
    Key::ok("postgresql.bin_name.postgres"),
    Key::ok("postgresql.bin_name.pg_rewind"),
    Key::warned(
        "postgresql.bin_name.pg_isready",
        Off::Never,
        "patroni-rs does not run pg_isready",
    ),
    Key::ok("postgresql.pgpass"),
    Key::ok("postgresql.database"),
    Key::ok("postgresql.basebackup"),
    Key::section("postgresql.authentication"),
    Key::section("postgresql.authentication.superuser"),
    Key::section("postgresql.authentication.replication"),
    Key::section("postgresql.authentication.rewind"),
    Key::ok("postgresql.authentication.*.username"),
    Key::ok("postgresql.authentication.*.password"),
    Key::refused("postgresql.authentication.*.sslmode", Off::Is(&["prefer"]), PG_TLS),
    Key::refused("postgresql.authentication.*.sslkey", Off::Never, PG_TLS),
    Key::refused("postgresql.authentication.*.sslpassword", Off::Never, PG_TLS),
    Key::refused("postgresql.authentication.*.sslcert", Off::Never, PG_TLS),
    Key::refused("postgresql.authentication.*.sslrootcert", Off::Never, PG_TLS),
    Key::refused("postgresql.authentication.*.sslcrl", Off::Never, PG_TLS),
    Key::refused("postgresql.authentication.*.sslcrldir", Off::Never, PG_TLS),
    Key::refused(
        "postgresql.authentication.*.gssencmode",
        Off::Is(&["prefer"]),
        "connections to PostgreSQL would use gssencmode=prefer",
    ),
    Key::refused(
        "postgresql.authentication.*.channel_binding",
        Off::Is(&["prefer"]),
        "connections to PostgreSQL would use channel_binding=prefer",
    ),
    Key::refused(
        "postgresql.authentication.*.sslnegotiation",
        Off::Is(&["postgres"]),
        "connections to PostgreSQL would negotiate TLS the usual way",
    ),
    Key::refused(
        "postgresql.recovery_conf",
        Off::Empty,
        "replicas would not get these recovery settings: patroni-rs reads recovery_conf only from the dynamic configuration (bootstrap.dcs.postgresql.recovery_conf)",
    ),
    Key::warned(
        "postgresql.use_unix_socket",
        Off::False,
        "patroni-rs connects to PostgreSQL over TCP",
    ),
    Key::warned(
        "postgresql.use_unix_socket_repl",
        Off::False,
        "patroni-rs connects to PostgreSQL over TCP",
    ),
    Key::warned(
        "postgresql.proxy_address",
        Off::Never,
        "proxy_url is not published in the member key",
    ),
    Key::warned(
        "postgresql.krbsrvname",
        Off::Never,
        "it is not added to connection strings",
    ),
    Key::warned(
        "postgresql.config_base_name",
        Off::Is(&["postgresql"]),
        "the managed file keeps the name postgresql.conf",
    ),
    Key::ignored("postgresql.use_slots", DYNAMIC_ONLY),
    Key::ignored("postgresql.name", OLD_LAYOUT),
    Key::ignored("postgresql.superuser", OLD_LAYOUT),
    Key::ignored("postgresql.replication", OLD_LAYOUT),
    Key::ignored("postgresql.pg_rewind", OLD_LAYOUT),
    // tags: custom tags are free-form
    Key::section("tags").with_free_children(),
    Key::ok("tags.nofailover"),
    Key::ok("tags.failover_priority"),
    Key::ok("tags.noloadbalance"),
    Key::ok("tags.clonefrom"),
    Key::ok("tags.nosync"),
    Key::ok("tags.sync_priority"),
    Key::refused(
        "tags.nostream",
        Off::False,
        "the replica would stream from its upstream instead of replaying archived WAL only",
    ),
    Key::refused(
        "tags.replicatefrom",
        Off::Never,
        "the replica would stream from the leader instead of the named member",
    ),
    // watchdog
    Key::refused(
        "watchdog",
        Off::Check(watchdog_off, "remove it or set mode: off"),
        "no watchdog would reset the machine if patroni-rs hung while holding the leader key",
    )
    .with_children(),
    Key::part("watchdog.mode"),
    Key::part("watchdog.device"),
    Key::part("watchdog.safety_margin"),
    Key::part("watchdog.driver"),
    // citus
    Key::refused(
        "citus",
        Off::Empty,
        "Citus workers would not be registered on the coordinator",
    )
    .with_children(),
    Key::part("citus.group"),
    Key::part("citus.database"),
    // DCS sections (only the one in use is checked)
    Key::ok("etcd").with_table(ETCD),
    Key::ok("etcd3").with_table(ETCD),
    Key::ok("zookeeper").with_table(ZOOKEEPER),
    Key::ok("exhibitor").with_table(EXHIBITOR),
    Key::refused(
        "consul",
        Off::Never,
        "the Consul backend is not built yet: no DCS could be reached",
    )
    .with_table(CONSUL),
    Key::refused(
        "kubernetes",
        Off::Never,
        "the Kubernetes backend is not built yet: no DCS could be reached",
    )
    .with_table(KUBERNETES),
    Key::refused(
        "raft",
        Off::Never,
        "the Raft backend is not built yet: no DCS could be reached",
    )
    .with_table(RAFT),
];
