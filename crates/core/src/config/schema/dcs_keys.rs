//! Keys of upstream Patroni 4.1's DCS sections, relative to the section (`etcd3.hosts` is
//! `hosts` in [`ETCD`]). Only the section a node uses is checked, as only it is read.

use super::keys::{no_https, parts, Key, Off};

const ETCD_TLS: &str = "TLS to etcd is not built yet: the connection would fail or go unencrypted";
const NO_HTTPS: Off = Off::Check(no_https, "remove it or use http:// endpoints");
const NO_SRV: &str = "DNS SRV discovery is not built yet: host/hosts would be used instead";

/// `etcd` (v2 API) and `etcd3`: the same keys.
pub static ETCD: &[Key] = &[
    Key::ok("host"),
    Key::refused_ctl("hosts", NO_HTTPS, ETCD_TLS),
    Key::refused_ctl("url", NO_HTTPS, ETCD_TLS),
    Key::refused_ctl("proxy", NO_HTTPS, ETCD_TLS),
    Key::ok("use_proxies"),
    Key::ok("username"),
    Key::ok("password"),
    Key::refused_ctl("protocol", Off::Is(&["http"]), ETCD_TLS),
    Key::refused_ctl("cacert", Off::Never, ETCD_TLS),
    Key::refused_ctl("cert", Off::Never, ETCD_TLS),
    Key::refused_ctl("key", Off::Never, ETCD_TLS),
    Key::refused_ctl("srv", Off::Never, NO_SRV),
    Key::refused_ctl("discovery_srv", Off::Never, NO_SRV),
    Key::refused_ctl("srv_domain", Off::Never, NO_SRV),
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
    // The legacy form of the `exhibitor` section, which Patroni moves there.
    Key::ok("exhibitor").with_table(EXHIBITOR),
];

/// `exhibitor`.
pub static EXHIBITOR: &[Key] = &[Key::ok("hosts"), Key::ok("port"), Key::ok("poll_interval")];

/// `consul`: the whole section is refused; its keys are listed for the documentation.
pub static CONSUL: &[Key] = &parts([
    "host",
    "url",
    "port",
    "scheme",
    "token",
    "verify",
    "cacert",
    "cert",
    "key",
    "dc",
    "consistency",
    "checks",
    "register_service",
    "service_tags",
    "service_check_interval",
    "service_check_tls_server_name",
]);

/// `kubernetes`: the whole section is refused; its keys are listed for the documentation.
pub static KUBERNETES: &[Key] = &parts([
    "labels",
    "bypass_api_service",
    "namespace",
    "scope_label",
    "role_label",
    "leader_label_value",
    "follower_label_value",
    "standby_leader_label_value",
    "tmp_role_label",
    "use_endpoints",
    "pod_ip",
    "ports",
    "cacert",
    "retriable_http_codes",
    "bootstrap_labels",
    "context",
]);

/// `raft`: the whole section is refused; its keys are listed for the documentation.
pub static RAFT: &[Key] = &parts([
    "self_addr",
    "bind_addr",
    "partner_addrs",
    "data_dir",
    "password",
]);
