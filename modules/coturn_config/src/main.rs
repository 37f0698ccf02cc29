//! The `matrixha.stack.coturn_config` module binary.

fn main() {
    matrixha_module::run_module::<coturn_config::CoturnConfig>()
}
