//! `patronictl show-config` and `edit-config`: the dynamic
//! configuration is read from and written to the DCS `/config` key directly, the write
//! conditional on the version that was read.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use patroni_core::config::value::deep_merge;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::prompt::Terminal;
use crate::{confirm, yaml};

/// Arguments of `show-config`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
}

/// Arguments of `edit-config`.
#[derive(clap::Args)]
pub struct EditArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Do not show changes.
    #[arg(short, long)]
    quiet: bool,
    /// Set specific configuration value. Can be specified multiple times.
    #[arg(short, long = "set")]
    set: Vec<String>,
    /// Set specific PostgreSQL parameter value. Shorthand for -s postgresql.parameters. Can be specified multiple times.
    #[arg(short, long = "pg")]
    pg: Vec<String>,
    /// Apply configuration from file. Use - for stdin.
    #[arg(long)]
    apply: Option<PathBuf>,
    /// Apply configuration from file, replacing existing configuration. Use - for stdin.
    #[arg(long)]
    replace: Option<PathBuf>,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
}

async fn read_config(
    ctx: &Context,
    scope: &str,
) -> anyhow::Result<(std::sync::Arc<dyn patroni_core::dcs::Dcs>, Value, i64)> {
    let dcs = ctx.dcs(scope).await?;
    let cluster = dcs.get_cluster().await?;
    match cluster.config {
        Some(c) if c.valid => Ok((dcs, c.data, c.version)),
        _ => bail!("The config key does not exist in the cluster {scope}"),
    }
}

/// `show-config`.
pub async fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<()> {
    let scope = args
        .cluster_name
        .unwrap_or_else(|| ctx.config.scope.clone());
    let (_, config, _) = read_config(ctx, &scope).await?;
    println!("{}", yaml::dump(&config));
    Ok(())
}

fn read_yaml(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let value = patroni_core::config::parse_yaml(&text, &path.display().to_string())?;
    Ok(value)
}

/// Applies one `dotted.path=value` pair (`value` parsed as YAML; `null` deletes).
/// Below `postgresql.parameters` the rest of the path is one parameter name.
/// Refuses an edit that asks for a feature patroni-rs does not have yet (synchronous mode,
/// standby cluster...): the daemons would ignore it and the user would believe otherwise.
/// Keys already in `/config` before the edit are left to the daemons' own warnings.
fn refuse_unsupported(before: &Value, after: &Value) -> anyhow::Result<()> {
    let new = patroni_core::config::newly_refused(before, after);
    if new.is_empty() {
        return Ok(());
    }
    bail!("the new configuration is refused:\n  {}", new.join("\n  "))
}

fn apply_pair(config: &mut Value, pair: &str) -> anyhow::Result<()> {
    let (path, raw) = pair
        .split_once('=')
        .ok_or_else(|| anyhow!("Invalid parameter setting {pair}"))?;
    if path.is_empty() {
        bail!("Invalid parameter setting {pair}");
    }
    let value: Value = if raw.trim().is_empty() {
        Value::Null
    } else {
        serde_saphyr::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
    };
    let parts: Vec<String> = match path.strip_prefix("postgresql.parameters.") {
        Some(name) => vec!["postgresql".into(), "parameters".into(), name.into()],
        None => path.split('.').map(str::to_string).collect(),
    };
    let mut patch = value;
    for part in parts.iter().rev() {
        let mut m = Map::new();
        m.insert(part.clone(), patch);
        patch = Value::Object(m);
    }
    deep_merge(config, &patch);
    prune_empty(config);
    Ok(())
}

/// Drops objects left empty by deletions.
fn prune_empty(v: &mut Value) {
    if let Value::Object(m) = v {
        for child in m.values_mut() {
            prune_empty(child);
        }
        m.retain(|_, c| !matches!(c, Value::Object(o) if o.is_empty()));
    }
}

fn edit_in_editor(scope: &str, text: &str) -> anyhow::Result<String> {
    let editor = std::env::var("EDITOR")
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| {
            ["editor", "vi"]
                .iter()
                .find(|e| crate::diff::on_path(e))
                .map(|e| e.to_string())
        });
    let Some(editor) = editor else {
        bail!("EDITOR environment variable is not set. editor or vi are not available")
    };
    let path = std::env::temp_dir().join(format!(
        "{}-config-{}.yaml",
        scope.replace('/', "_"),
        std::process::id()
    ));
    std::fs::write(&path, text)?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status();
    let edited = std::fs::read_to_string(&path);
    // A temporary file left behind is harmless; the edit's outcome is what matters.
    let _ = std::fs::remove_file(&path);
    match status {
        Ok(s) if s.success() => Ok(edited?),
        _ => bail!(
            "Editor exited with return code {}",
            status.map(|s| s.code().unwrap_or(-1)).unwrap_or(-1)
        ),
    }
}

/// `edit-config`.
pub async fn edit(ctx: &Context, args: EditArgs) -> anyhow::Result<()> {
    let scope = args
        .cluster_name
        .clone()
        .unwrap_or_else(|| ctx.config.scope.clone());
    let (dcs, before, version) = read_config(ctx, &scope).await?;
    let before_text = yaml::dump(&before);
    let mut after = before.clone();
    let no_options =
        args.replace.is_none() && args.apply.is_none() && args.set.is_empty() && args.pg.is_empty();
    if no_options {
        let edited = edit_in_editor(&scope, &before_text)?;
        after = patroni_core::config::parse_yaml(&edited, "the edited configuration")?;
    }
    if let Some(path) = &args.replace {
        after = read_yaml(path)?;
    }
    if let Some(path) = &args.apply {
        deep_merge(&mut after, &read_yaml(path)?);
    }
    for pair in &args.set {
        apply_pair(&mut after, pair)?;
    }
    for pair in &args.pg {
        apply_pair(&mut after, &format!("postgresql.parameters.{pair}"))?;
    }
    refuse_unsupported(&before, &after)?;
    let after_text = yaml::dump(&after);
    if after_text == before_text {
        if !args.quiet {
            println!("Not changed");
        }
        return Ok(());
    }
    if !args.quiet {
        crate::diff::show(&before_text, &after_text);
    }
    let from_stdin = [&args.apply, &args.replace]
        .iter()
        .any(|p| p.as_ref().is_some_and(|p| p.as_os_str() == "-"));
    if from_stdin && !args.force {
        bail!("Use --force option to apply changes");
    }
    if !confirm::proceed(&Terminal::stdin(), args.force, "Apply these changes?")? {
        return Ok(());
    }
    let text = serde_json::to_string(&after)?;
    if !dcs.set_config_value(&text, Some(version)).await? {
        bail!("Config modification aborted due to concurrent changes");
    }
    println!("Configuration changed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn pairs() {
        let mut c = json!({"loop_wait": 10, "postgresql": {"parameters": {"work_mem": "4MB"}}});
        super::apply_pair(&mut c, "loop_wait=9").unwrap();
        super::apply_pair(&mut c, "postgresql.parameters.pg_stat_statements.track=all").unwrap();
        super::apply_pair(&mut c, "postgresql.parameters.work_mem=null").unwrap();
        assert_eq!(
            c,
            json!({"loop_wait": 9, "postgresql": {"parameters": {"pg_stat_statements.track": "all"}}})
        );
        super::apply_pair(&mut c, "postgresql.parameters.pg_stat_statements.track=").unwrap();
        assert_eq!(c, json!({"loop_wait": 9}));
        assert!(super::apply_pair(&mut c, "nonsense").is_err());
    }
}
