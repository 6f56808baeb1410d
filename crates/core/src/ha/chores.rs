//! What the leader keeps in order each cycle once its lock is renewed and it runs the primary:
//! the `initialize` key, `/config`, one replication slot per member, `/history`.

use crate::cluster::slot_name_from_member_name;

use super::HaInput;

/// One write the leader owes the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chore {
    /// Write our system identifier to `initialize` (`create`: the key is absent).
    WriteInitialize {
        /// Our `Database system identifier`.
        system_id: String,
        /// Create the key rather than overwrite it.
        create: bool,
    },
    /// `/config` is missing: write the dynamic configuration in force.
    WriteConfig,
    /// These physical slots must exist on the primary (one per streaming member).
    MemberSlots(Vec<String>),
    /// `/history` lags behind our timeline: publish our timeline history.
    WriteHistory {
        /// Our timeline.
        timeline: u64,
    },
}

/// The chores due this cycle, in the order upstream does them.
pub fn leader_chores(input: &HaInput, system_id: Option<&str>) -> Vec<Chore> {
    let cluster = input.cluster;
    let mut chores = Vec::new();
    if let Some(sysid) = system_id {
        if cluster.system_id() != Some(sysid) {
            chores.push(Chore::WriteInitialize {
                system_id: sysid.to_string(),
                create: cluster.initialize.is_none(),
            });
        }
    }
    if cluster.config.is_none() {
        chores.push(Chore::WriteConfig);
    }
    if input.config.use_slots {
        let slots = cluster
            .members
            .iter()
            .filter(|m| m.name != input.local.name)
            .filter(|m| m.tags().get("nostream").and_then(|v| v.as_bool()) != Some(true))
            .map(|m| slot_name_from_member_name(&m.name))
            .collect();
        chores.push(Chore::MemberSlots(slots));
    }
    if let Some(timeline) = input.local.timeline() {
        if timeline > 1 && cluster.timeline() < timeline {
            chores.push(Chore::WriteHistory { timeline });
        }
    }
    chores
}
