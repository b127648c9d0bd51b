//! Compiles `proto/tilsyn/v1/*.proto` with protox (pure Rust), so building this crate needs
//! no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/tilsyn/v1/agent.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    // The service stubs only with the `grpc` feature: the collector's core uses the
    // messages and must not pull in tonic.
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_client(grpc)
        .build_server(grpc)
        // Every message is also plain serde data: the collector stores sections as JSON and
        // serves them from its API, the agent prints them with `collect`.
        .type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")
        .type_attribute(".", "#[serde(rename_all = \"snake_case\")]")
        .message_attribute(".", "#[serde(default)]")
        .compile_fds(fds)?;
    Ok(())
}
