//! What components use, on the wire: `Top`'s reply.

use mcp_model::view::ComponentUsage;

use super::{Result, decode_state, encode_state, system_time, time_or_epoch, timestamp};
use crate::v1;

/// Encodes one component's usage.
pub fn encode_usage(u: &ComponentUsage) -> v1::ComponentUsage {
    let (state, state_detail) = encode_state(&u.state);
    v1::ComponentUsage {
        service: u.service.clone(),
        component: u.component.clone(),
        node: u.node.clone(),
        container: u.container.clone(),
        state,
        state_detail,
        cpu_percent: u.cpu_percent,
        cpu_seconds: u.cpu_seconds,
        memory_bytes: u.memory_bytes,
        memory_limit_bytes: u.memory_limit_bytes,
        pids: u.pids,
        restart_count: u.restart_count,
        started_at: u.started_at.map(timestamp),
        sampled_at: Some(timestamp(u.sampled_at)),
    }
}

/// Decodes one component's usage.
pub fn decode_usage(u: v1::ComponentUsage) -> Result<ComponentUsage> {
    Ok(ComponentUsage {
        state: decode_state(u.state, u.state_detail)?,
        started_at: u.started_at.as_ref().map(system_time),
        sampled_at: time_or_epoch(u.sampled_at.as_ref()),
        service: u.service,
        component: u.component,
        node: u.node,
        container: u.container,
        cpu_percent: u.cpu_percent,
        cpu_seconds: u.cpu_seconds,
        memory_bytes: u.memory_bytes,
        memory_limit_bytes: u.memory_limit_bytes,
        pids: u.pids,
        restart_count: u.restart_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_model::container::ContainerState;
    use std::time::{Duration, SystemTime};

    #[test]
    fn usage_round_trips() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let busy = ComponentUsage {
            service: "web".into(),
            component: "api".into(),
            node: "n1".into(),
            container: "web-api".into(),
            state: ContainerState::Running,
            cpu_percent: Some(97.5),
            cpu_seconds: Some(12.25),
            memory_bytes: Some(1 << 20),
            memory_limit_bytes: Some(1 << 30),
            pids: Some(3),
            restart_count: 2,
            started_at: Some(at),
            sampled_at: at + Duration::from_secs(60),
        };
        let stopped = ComponentUsage {
            state: ContainerState::Exited,
            cpu_percent: None,
            cpu_seconds: None,
            memory_bytes: None,
            memory_limit_bytes: None,
            pids: None,
            started_at: None,
            ..busy.clone()
        };
        for u in [busy, stopped] {
            assert_eq!(decode_usage(encode_usage(&u)).expect("decodes"), u);
        }
    }
}
