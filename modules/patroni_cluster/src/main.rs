//! The `matrixha.stack.patroni_cluster` module binary.

fn main() {
    matrixha_module::run_module::<patroni_cluster::PatroniCluster>()
}
