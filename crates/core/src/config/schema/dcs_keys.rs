//! Keys of upstream Patroni 4.1's DCS sections, relative to the section (`etcd3.hosts` is
//! `hosts` in [`ETCD`]). Only the section a node uses is checked, as only it is read.

use super::keys::{no_https, Key, Off};

const ETCD_TLS: &str = "TLS to etcd is not built yet: the connection would fail or go unencrypted";
const NO_HTTPS: &str = "remove it or use http:// endpoints";

/// `etcd` (v2 API) and `etcd3`: the same keys.
pub static ETCD: &[Key] = &[
    Key::ok("host"),
    Key::refused_ctl("hosts", Off::Check(no_https, NO_HTTPS), ETCD_TLS),
    Key::refused_ctl("url", Off::Check(no_https, NO_HTTPS), ETCD_TLS),
    Key::refused_ctl("proxy", Off::Check(no_https, NO_HTTPS), ETCD_TLS),
    Key::ok("use_proxies"),
    Key::ok("username"),
    Key::ok("password"),
    Key::refused_ctl("protocol", Off::Is(&["http"]), ETCD_TLS),
    Key::refused_ctl("cacert", Off::Never, ETCD_TLS),
    Key::refused_ctl("cert", Off::Never, ETCD_TLS),
    Key::refused_ctl("key", Off::Never, ETCD_TLS),
    Key::refused_ctl(
        "srv",
        Off::Never,
        "DNS SRV discovery is not built yet: host/hosts would be used instead",
    ),
    Key::refused_ctl(
        "discovery_srv",
        Off::Never,
        "DNS SRV discovery is not built yet: host/hosts would be used instead",
    ),
    Key::refused_ctl(
        "srv_domain",
        Off::Never,
        "DNS SRV discovery is not built yet: host/hosts would be used instead",
    ),
    Key::part("srv_suffix"),
    Key::warned(
        "port",
        Off::Never,
        "patroni-rs takes ports only from host/hosts: write host:port there",
    ),
    Key::warned(
        "version_prefix",
        Off::Is(&["/v2"]),
        "patroni-rs always uses the /v2 prefix of etcd's v2 API",
    ),
];

/// `zookeeper`.
pub static ZOOKEEPER: &[Key] = &[
    Key::ok("hosts"),
    Key::ok("auth_data"),
    Key::refused_ctl(
        "use_ssl",
        Off::False,
        "TLS to ZooKeeper is not built yet: the connection would fail",
    ),
    Key::part("cacert"),
    Key::part("cert"),
    Key::part("key"),
    Key::part("key_password"),
    Key::part("verify"),
    Key::refused(
        "set_acls",
        Off::Empty,
        "znodes would be created without these ACLs, open to every client",
    ),
    Key::section("exhibitor"),
    Key::ok("exhibitor.hosts"),
    Key::ok("exhibitor.port"),
    Key::ok("exhibitor.poll_interval"),
];

/// `exhibitor`.
pub static EXHIBITOR: &[Key] = &[Key::ok("hosts"), Key::ok("port"), Key::ok("poll_interval")];

/// `consul`: the whole section is refused; its keys are listed for the documentation.
pub static CONSUL: &[Key] = &[
    Key::part("host"),
    Key::part("url"),
    Key::part("port"),
    Key::part("scheme"),
    Key::part("token"),
    Key::part("verify"),
    Key::part("cacert"),
    Key::part("cert"),
    Key::part("key"),
    Key::part("dc"),
    Key::part("consistency"),
    Key::part("checks"),
    Key::part("register_service"),
    Key::part("service_tags"),
    Key::part("service_check_interval"),
    Key::part("service_check_tls_server_name"),
];

/// `kubernetes`: the whole section is refused; its keys are listed for the documentation.
pub static KUBERNETES: &[Key] = &[
    Key::part("labels"),
    Key::part("bypass_api_service"),
    Key::part("namespace"),
    Key::part("scope_label"),
    Key::part("role_label"),
    Key::part("leader_label_value"),
    Key::part("follower_label_value"),
    Key::part("standby_leader_label_value"),
    Key::part("tmp_role_label"),
    Key::part("use_endpoints"),
    Key::part("pod_ip"),
    Key::part("ports"),
    Key::part("cacert"),
    Key::part("retriable_http_codes"),
    Key::part("bootstrap_labels"),
    Key::part("context"),
];

/// `raft`: the whole section is refused; its keys are listed for the documentation.
pub static RAFT: &[Key] = &[
    Key::part("self_addr"),
    Key::part("bind_addr"),
    Key::part("partner_addrs"),
    Key::part("data_dir"),
    Key::part("password"),
];
