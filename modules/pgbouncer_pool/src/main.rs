//! The `matrixha.stack.pgbouncer_pool` module binary.

fn main() {
    matrixha_module::run_module::<pgbouncer_pool::PgbouncerPool>()
}
