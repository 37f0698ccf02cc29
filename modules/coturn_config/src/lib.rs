//! Keep coturn's `turnserver.conf` as the inventory says (validated, written atomically), and probe TURN servers.
//!
//! `rules` and `peers` are the pure rules `matrixha check` shares with the module.

pub mod apply;
pub mod certs;
pub mod observe;
pub mod params;
pub mod peers;
pub mod plan;
pub mod probe;
pub mod render;
pub mod rules;
pub mod version;

use matrixha_module::{textdiff, Ctx, Module, ModuleError, Outcome};
pub use params::{ConfigParams, Params};
pub use probe::params::ProbeParams;

pub struct CoturnConfig;

impl Module for CoturnConfig {
    const NAME: &'static str = "coturn_config";
    type Params = Params;

    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
        match p {
            Params::Present(c) => configure(&c, ctx),
            // A probe changes nothing, so it runs in check mode too.
            Params::Probe(pr) => probe::run(&pr),
        }
    }
}

fn configure(p: &ConfigParams, ctx: &Ctx) -> Result<Outcome, ModuleError> {
    let peers = p.validate()?;
    let own = p.ownership()?;
    let mut warnings = peers.warnings.clone();
    if let (Some(cert), Some(pkey)) = (&p.cert, &p.pkey) {
        warnings.extend(certs::check(cert, pkey, p.host_name(), &p.service_user)?.warnings);
    }
    let version = observe::coturn_version(p)?;
    let want = render::turnserver_conf(p, &peers, version);
    let now = observe::state(p)?;
    let changes = plan::changes(p, &want, &own, &now);
    let content_changes = changes.iter().any(|c| {
        matches!(
            c,
            plan::Change::WriteConfig {
                content_changes: true,
                ..
            }
        )
    });
    if !ctx.check_mode {
        apply::changes(p, &want, &own, &changes)?;
    }
    let ranges = |rules: &[peers::Rule]| rules.iter().map(peers::Rule::coturn).collect::<Vec<_>>();
    let mut out = Outcome::changed_if(!changes.is_empty())
        .field("path", &p.path)
        .field("coturn_version", version.to_string())
        .field("turn_uris", render::turn_uris(p))
        .field("changes", &changes)
        .field("denied_peer_ips", ranges(&peers.denied))
        .field("allowed_peer_ips", ranges(&peers.allowed))
        .field(
            "restarted",
            !ctx.check_mode
                && changes
                    .iter()
                    .any(|c| matches!(c, plan::Change::RestartService { .. })),
        );
    if content_changes {
        // Before = the file the module takes over (whatever secrets it holds), after = the
        // plan's file; every secret-bearing line masked in both, a changed one marked.
        let (before, after) = textdiff::mask_secrets(
            now.content.as_deref().unwrap_or_default(),
            &want,
            render::secret_span,
        );
        out = out.diff(&p.path, before, after);
    }
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}
