//! Builds the example service's image locally (`localhost/hello:<version>`, FROM
//! scratch; nothing is pulled) for rootful Podman, and prints its reference.
//!
//! Run: `cargo run -p mcp-examples --example hello_image [VERSION]`

use mcp_testkit::testbed::{Mode, Testbed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = std::env::args().nth(1).unwrap_or_else(|| "v0.1.0".into());
    let bed = Testbed::new(Mode::Rootful)?;
    println!("{}", bed.hello_image(&version)?);
    Ok(())
}
