//! The typed local configuration: what one `patroni` daemon (or `patronictl`) reads from its
//! YAML and environment.

use serde_json::Value;

use super::dcs::{dcs_section, DcsSection, KNOWN_DCS};
use super::log::{log_section, LogConfig};
use super::schema::{self, KeyReport};
use super::sections::{
    bootstrap_section, check_address, check_binaries, credentials, postgresql_section,
    restapi_section, tags_section,
};
use super::types::{BootstrapConfig, Credentials, PostgresqlConfig, RestApiConfig, Tags};
use super::value::Section;
use super::ConfigError;

/// The whole local configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Member name.
    pub name: String,
    /// Cluster name.
    pub scope: String,
    /// DCS namespace (default `/service/`).
    pub namespace: String,
    /// `restapi:`.
    pub restapi: RestApiConfig,
    /// Credentials patronictl and members use for other members' REST APIs.
    pub ctl_authentication: Option<Credentials>,
    /// The DCS section, if any.
    pub dcs: Option<DcsSection>,
    /// `bootstrap:`.
    pub bootstrap: BootstrapConfig,
    /// `postgresql:`.
    pub postgresql: PostgresqlConfig,
    /// `tags:`.
    pub tags: Tags,
    /// `log:`.
    pub log: LogConfig,
    /// Warnings found while reading (logged by the caller).
    pub warnings: Vec<String>,
    /// The merged tree the typed fields were read from.
    pub tree: Value,
}

/// How strictly to read a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// The daemon: every required key must be there and `bin_dir` must hold PostgreSQL.
    Daemon,
    /// patronictl: only the scope, namespace, DCS and REST credentials matter.
    Ctl,
}

impl Config {
    /// Reads the typed configuration from a merged tree.
    pub fn from_tree(tree: Value, strictness: Strictness) -> Result<Config, ConfigError> {
        let root = Section::root(&tree)?;
        let daemon = strictness == Strictness::Daemon;
        // Judged before the typed reads so that one run names every refused key, whatever
        // else is wrong with the file.
        let keys = if daemon {
            schema::check_local(&tree)
        } else {
            schema::check_ctl(&tree)
        };
        refuse(&keys)?;
        let req = |s: &Section, key: &str| {
            if daemon {
                s.required_string(key)
            } else {
                Ok(s.string(key)?.unwrap_or_default())
            }
        };
        let mut warnings = keys.warnings;

        let name = req(&root, "name")?;
        let scope = req(&root, "scope")?;
        let namespace = root
            .string("namespace")?
            .unwrap_or_else(|| "/service/".into());

        let restapi = restapi_section(&root.section("restapi")?, daemon)?;
        let ctl_s = root.section("ctl")?;
        let ctl_authentication = credentials(&ctl_s.section("authentication")?)?;

        let dcs = dcs_section(&root, &mut warnings)?;
        if daemon && dcs.is_none() {
            return Err(no_dcs_section(&root));
        }

        let bootstrap = bootstrap_section(&root.section("bootstrap")?)?;
        let postgresql = postgresql_section(&root.section("postgresql")?, daemon)?;
        let tags = tags_section(&root.section("tags")?, &mut warnings)?;
        let log = log_section(&root.section("log")?)?;
        if daemon {
            check_binaries(&postgresql)?;
            check_address("restapi.listen", &restapi.listen)?;
            check_address("restapi.connect_address", &restapi.connect_address)?;
            check_address("postgresql.connect_address", &postgresql.connect_address)?;
        }
        Ok(Config {
            name,
            scope,
            namespace,
            restapi,
            ctl_authentication,
            dcs,
            bootstrap,
            postgresql,
            tags,
            log,
            warnings,
            tree,
        })
    }

    /// `http://<restapi.connect_address>/patroni`, as published in the member key.
    pub fn api_url(&self) -> String {
        format!("http://{}/patroni", self.restapi.connect_address)
    }

    /// `postgres://<postgresql.connect_address>/<database>`, as published in the member key.
    pub fn conn_url(&self) -> String {
        format!(
            "postgres://{}/{}",
            self.postgresql.connect_address, self.postgresql.database
        )
    }

    /// Credentials to use against other members' REST APIs (ctl, else restapi).
    pub fn rest_client_credentials(&self) -> Option<&Credentials> {
        self.ctl_authentication
            .as_ref()
            .or(self.restapi.authentication.as_ref())
    }
}

/// The error for a daemon configuration without a DCS section, naming the top-level keys
/// upstream does not know (a misspelt section is the usual cause).
fn no_dcs_section(root: &Section) -> ConfigError {
    let unknown: Vec<_> = root
        .keys()
        .into_iter()
        .filter(|k| !schema::is_known_top_level(k))
        .cloned()
        .collect();
    let hint = if unknown.is_empty() {
        String::new()
    } else {
        format!(
            " (unknown section{} {})",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", ")
        )
    };
    ConfigError::invalid(
        "",
        format!(
            "no DCS section found: expected one of {}{hint}",
            KNOWN_DCS.join(", ")
        ),
    )
}

/// One error naming every refused key, so that `--validate-config` lists them all at once.
fn refuse(keys: &KeyReport) -> Result<(), ConfigError> {
    match keys.refused.as_slice() {
        [] => Ok(()),
        [one] => Err(ConfigError::invalid("", one.clone())),
        many => Err(ConfigError::invalid(
            "",
            format!(
                "{} settings are not supported yet by patroni-rs:\n  {}",
                many.len(),
                many.join("\n  ")
            ),
        )),
    }
}
