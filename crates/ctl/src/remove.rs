//! `patronictl remove`: delete a whole cluster from the DCS after three typed confirmations.

use anyhow::bail;

use crate::context::Context;
use crate::list::{self, ListArgs};
use crate::output::Format;
use crate::prompt::{Ask, Terminal};

/// Arguments of `remove`.
#[derive(clap::Args)]
pub struct RemoveArgs {
    /// Cluster name.
    cluster_name: String,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Output format of the listing.
    #[arg(short = 'f', long, value_enum, default_value = "pretty")]
    format: Format,
}

/// `remove`: deletes the whole cluster from the DCS after three confirmations.
pub async fn run(ctx: &Context, args: RemoveArgs) -> anyhow::Result<()> {
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    print!(
        "{}",
        list::render(
            &args.cluster_name,
            &cluster,
            &ListArgs::in_format(args.format)
        )
    );
    confirmed(
        &Terminal::stdin(),
        &args.cluster_name,
        cluster.leader_name(),
    )?;
    dcs.delete_cluster().await?;
    Ok(())
}

/// The three answers upstream wants typed: the cluster's name, a sentence, and, while the
/// cluster has a leader, the leader's name.
fn confirmed(ask: &dyn Ask, cluster_name: &str, leader: Option<&str>) -> anyhow::Result<()> {
    const AWARE: &str = "Yes I am aware";
    const OPTION: &str = "the answers on a terminal";
    if ask.input("Please confirm the cluster name to remove", "", OPTION)? != cluster_name {
        bail!("Cluster names specified do not match");
    }
    let question = format!(
        "You are about to remove all information in DCS for {cluster_name}, please type: \"{AWARE}\""
    );
    if ask.input(&question, "", OPTION)? != AWARE {
        bail!("You did not exactly type \"{AWARE}\"");
    }
    if let Some(leader) = leader {
        let question =
            "This cluster currently is healthy. Please specify the leader name to continue";
        if ask.input(question, "", OPTION)? != leader {
            bail!("You did not specify the current leader of the cluster");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::confirmed;
    use crate::prompt::script::Script;

    #[test]
    fn three_answers() {
        let ask = Script::new(&["batman", "Yes I am aware", "pg1"]);
        confirmed(&ask, "batman", Some("pg1")).expect("all typed");
        assert_eq!(
            ask.asked.borrow()[1],
            "You are about to remove all information in DCS for batman, please type: \"Yes I am aware\""
        );
        let ask = Script::new(&["batman", "Yes I am aware"]);
        confirmed(&ask, "batman", None).expect("no leader to name");
        let wrong = |answers: &[&str]| {
            confirmed(&Script::new(answers), "batman", Some("pg1"))
                .map_err(|e| e.to_string())
                .unwrap_err()
        };
        assert_eq!(wrong(&["robin"]), "Cluster names specified do not match");
        assert_eq!(
            wrong(&["batman", "yes"]),
            "You did not exactly type \"Yes I am aware\""
        );
        assert_eq!(
            wrong(&["batman", "Yes I am aware", "pg2"]),
            "You did not specify the current leader of the cluster"
        );
    }
}
