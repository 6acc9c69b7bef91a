//! Fuzz target: a service definition from any bytes, parsed as a file is (with
//! the UTF-8 and size checks), and a valid one round-tripped through its
//! canonical form, which must parse back to the same definition.

use mcp_model::spec::ServiceDefinition;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(def) = ServiceDefinition::parse(text, None) {
            let again = ServiceDefinition::parse(&def.to_toml(), None)
                .expect("the canonical form parses");
            assert_eq!(again, def, "the canonical form round-trips");
        }
    });
}
