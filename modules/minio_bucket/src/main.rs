//! The `matrixha.stack.minio_bucket` module binary.

fn main() {
    matrixha_module::run_module::<minio_bucket::MinioBucket>()
}
