//! The `matrixha.stack.livekit_node` module binary.

fn main() {
    matrixha_module::run_module::<livekit_node::LivekitNode>()
}
