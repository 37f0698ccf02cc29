//! Keep coturn's `turnserver.conf` as the inventory says: rendered, validated, written atomically.

pub mod apply;
pub mod observe;
pub mod params;
pub mod render;

use matrixha_module::{Ctx, Module, ModuleError, Outcome};
pub use params::Params;

pub struct CoturnConfig;

impl Module for CoturnConfig {
    const NAME: &'static str = "coturn_config";
    type Params = Params;

    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, ModuleError> {
        p.validate()?;
        let want = render::turnserver_conf(&p);
        let now = observe::state(&p)?;
        let content_changes = now.content.as_deref() != Some(want.as_str());
        let owner_changes =
            matrixha_module::file::ownership_differs(&p.ownership()?, now.ownership.as_ref());
        let changed = content_changes || owner_changes;
        if changed && !ctx.check_mode {
            apply::write(&p, &want, content_changes)?;
        }
        let mut out = Outcome::changed_if(changed)
            .field("path", &p.path)
            .field("turn_uris", render::turn_uris(&p))
            .field("restarted", changed && content_changes && !ctx.check_mode && p.service_action_runs());
        if content_changes {
            out = out.diff(
                &p.path,
                render::masked(&now.content.unwrap_or_default(), &p),
                render::masked(&want, &p),
            );
        }
        Ok(out)
    }
}
