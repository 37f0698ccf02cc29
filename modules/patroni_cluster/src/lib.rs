//! `matrixha.stack.patroni_cluster`: Patroni node config, cluster state, dynamic config, operations, database.

pub mod actions;
pub mod dcs;
pub mod hba;
pub mod masking;
pub mod observe;
pub mod params;
pub mod plan;
pub mod render;
pub mod rest;
pub mod settle;
pub mod tuning;

use matrixha_module::{Ctx, Module, ModuleError, Outcome};
use params::ActionParams;
pub use params::Params;

pub struct PatroniCluster;

impl Module for PatroniCluster {
    const NAME: &'static str = "patroni_cluster";
    type Params = Params;

    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
        validate(&p)?;
        let c = &p.connection;
        match &p.action {
            ActionParams::Config(a) => actions::config::run(c, a, ctx),
            ActionParams::Facts(a) => actions::facts::run(c, a),
            ActionParams::WaitFor(a) => actions::wait_for::run(c, a),
            ActionParams::DynamicConfig(a) => actions::dynamic_config::run(c, a, ctx),
            ActionParams::Switchover(a) => actions::switchover::run(c, a, ctx),
            ActionParams::Failover(a) => actions::failover::run(c, a, ctx),
            ActionParams::Restart(a) => actions::restart::run(c, a, ctx),
            ActionParams::Reinitialize(a) => actions::reinitialize::run(c, a, ctx),
            ActionParams::Database(a) => actions::database::run(c, a, ctx),
        }
    }
}

/// Every check that needs no I/O: the connection options, then the action's
/// own. Public so `matrixha check` runs the same rules.
pub fn validate(p: &Params) -> Result<(), ModuleError> {
    p.connection.validate()?;
    match &p.action {
        ActionParams::Config(a) => a.validate(&p.connection),
        ActionParams::DynamicConfig(a) => a.validate(),
        ActionParams::WaitFor(a) => a.validate(),
        ActionParams::Failover(a) => a.validate(),
        ActionParams::Reinitialize(a) => a.validate(),
        ActionParams::Database(a) => a.validate(),
        ActionParams::Facts(_) | ActionParams::Switchover(_) | ActionParams::Restart(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use params::{field_names, Action, Connection};
    use std::collections::{BTreeMap, BTreeSet};

    fn doc() -> serde_yaml::Value {
        serde_yaml::from_str(include_str!(
            "../../../collection/plugins/modules/patroni_cluster.yml"
        ))
        .unwrap()
    }

    /// The sidecar documentation (what ansible-doc and argument checks show) lists
    /// exactly the parameters the actions accept, and each option tagged
    /// "(action)" in its description is accepted by exactly those actions.
    #[test]
    fn sidecar_doc_lists_every_parameter_of_every_action() {
        let doc = doc();
        let options = doc["DOCUMENTATION"]["options"].as_mapping().unwrap();
        let documented: BTreeSet<String> = options
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        let mut accepted: BTreeSet<String> = ["action".to_owned()].into();
        let mut users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for a in Action::ALL {
            for f in a.fields() {
                accepted.insert((*f).to_owned());
                users.entry(f).or_default().insert(a.name());
            }
        }
        accepted.extend(field_names::<Connection>().iter().map(|f| (*f).to_owned()));
        assert_eq!(documented, accepted);
        for (name, actions) in users {
            let text = serde_yaml::to_string(&options[name]["description"]).unwrap();
            for a in Action::ALL {
                let tagged = text.contains(&format!("({})", a.name()))
                    || text.contains(&format!("({},", a.name()))
                    || text.contains(&format!(" {})", a.name()))
                    || text.contains(&format!(" {},", a.name()));
                assert_eq!(
                    tagged,
                    actions.contains(a.name()),
                    "option {name}: documented for ({}) = {tagged}, accepted = {}",
                    a.name(),
                    actions.contains(a.name())
                );
            }
        }
        let dcs_doc: BTreeSet<String> = options["dcs"]["suboptions"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        let dcs: BTreeSet<String> = field_names::<dcs::Dcs>()
            .iter()
            .map(|f| (*f).to_owned())
            .collect();
        assert_eq!(dcs_doc, dcs);
    }

    /// Every option marked no_log-like in the documentation is a `Secret` in the
    /// code: its value serialises masked in `invocation`.
    #[test]
    fn documented_secrets_serialise_masked() {
        let doc = doc();
        let options = doc["DOCUMENTATION"]["options"].as_mapping().unwrap();
        let secrets: Vec<&str> = options
            .iter()
            .filter(|(_, v)| {
                serde_yaml::to_string(&v["description"])
                    .unwrap()
                    .contains("no_log")
            })
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(secrets.len(), 7, "{secrets:?}");
        for name in secrets {
            let action = Action::ALL
                .into_iter()
                .find(|a| a.fields().contains(&name))
                .map(|a| a.name())
                .unwrap_or("facts");
            let mut args = serde_json::json!({"action": action, name: "a-secret-value-0123456789"});
            if name == "api_password" {
                args["api_username"] = "patroni".into();
            }
            if name == "etcd3_password" {
                args["etcd3_username"] = "root".into();
            }
            let (_, p): (Ctx, Params) = matrixha_module::parse_args(&args.to_string()).unwrap();
            let v = serde_json::to_value(&p).unwrap();
            assert_eq!(
                v[name], "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
                "{name}: {v}"
            );
        }
    }
}
