//! Compiles `mcp/v1/*.proto` with protox (pure Rust): no `protoc` is needed anywhere.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["mcp/v1/agent.proto"];
    let fds = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=mcp");
    Ok(())
}
