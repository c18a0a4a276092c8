//! Runs the gateway without the `oathmesh` CLI:
//! `cargo run --release -p oathmesh-gateway --example gateway -- --config gateway.toml`.

fn main() -> std::process::ExitCode {
    oathmesh_gateway::main_from_args(std::env::args_os().skip(1))
}
