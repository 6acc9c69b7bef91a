//! Compiles `mcp/v1/*.proto` (the agent API) and `mcproxy/v1/*.proto` (mc-proxy's
//! admin API, as MCP speaks it) with protox (pure Rust): no `protoc` is needed
//! anywhere. The agent API's descriptor set is kept too, so tests can enumerate
//! every RPC.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["mcp/v1/agent.proto"];
    let fds = protox::compile(files, ["."])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("mcp_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    let proxy = protox::compile(["mcproxy/v1/admin.proto"], ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(proxy)?;
    println!("cargo:rerun-if-changed=mcp");
    println!("cargo:rerun-if-changed=mcproxy");
    Ok(())
}
