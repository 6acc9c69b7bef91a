//! A command in a running container of a service (`mcp exec`): the component
//! chosen and checked (it must be running, not held for flapping), the start
//! recorded as an event (who ran what where; not the arguments, which may hold
//! secrets), then the runtime's [`ExecSession`].

use mcp_model::names::{ComponentName, ServiceName};
use mcp_model::view::DesiredState;

use super::{Engine, EngineError};
use crate::registry::NewEvent;
use crate::runtime::{ContainerState, ExecRequest, ExecSession};

impl Engine {
    /// Starts `request` in `service`'s container of `component` (the only
    /// component when `None`). Refused, naming the state, when the component is
    /// stopped, held for flapping, or its container does not run; with several
    /// components and none named, the error lists them. Must be called inside
    /// a Tokio runtime (the session's streams are tasks of it).
    pub fn exec(
        &self,
        service: &ServiceName,
        component: Option<&ComponentName>,
        request: &ExecRequest,
        actor: &str,
    ) -> Result<ExecSession, crate::Error> {
        check_request(request)?;
        let container = self.exec_target(service, component)?;
        let slot = self.exec_slots.clone().try_acquire_owned().map_err(|_| {
            EngineError::Busy(format!(
                "this node runs {MAX_SESSIONS} exec sessions already; try again when one ends"
            ))
        })?;
        let session = self.runtime.exec(&container, request)?.holding(slot);
        self.record_exec(service, &container, request, actor);
        Ok(session)
    }

    /// The running container of `service`'s `component` (its only one when
    /// `None`), or why a command cannot run there.
    fn exec_target(
        &self,
        service: &ServiceName,
        component: Option<&ComponentName>,
    ) -> Result<String, crate::Error> {
        let rec = self.deployed(service)?;
        let c = match (component, rec.components.as_slice()) {
            (Some(name), all) => all
                .iter()
                .find(|c| c.name == name.as_str())
                .ok_or_else(|| EngineError::NotDeployed(format!("{service}/{name}")))?,
            (None, [only]) => only,
            (None, all) => {
                let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
                return Err(EngineError::Precondition(format!(
                    "service {service} has components {}: name one (-c COMPONENT)",
                    names.join(", ")
                ))
                .into());
            }
        };
        let refuse = |state: String| -> crate::Error {
            EngineError::Precondition(format!(
                "component {} of {service} is {state}: a command runs only in a running container",
                c.name
            ))
            .into()
        };
        if c.flapping_since.is_some() {
            return Err(refuse("flapping (held stopped by the monitor)".into()));
        }
        if c.desired == DesiredState::Stopped || !rec.active {
            return Err(refuse("stopped".into()));
        }
        match self.runtime.inspect(&c.container_name)? {
            Some(info) if info.state == ContainerState::Running => Ok(c.container_name.clone()),
            Some(info) => Err(refuse(format!(
                "{} (container {})",
                info.state, c.container_name
            ))),
            None => Err(refuse(format!("missing (container {})", c.container_name))),
        }
    }

    /// The event of a started command: who, where, which program, how many
    /// arguments (never their values).
    fn record_exec(
        &self,
        service: &ServiceName,
        container: &str,
        request: &ExecRequest,
        actor: &str,
    ) {
        let program = request.command.first().map_or("", String::as_str);
        let terminal = if request.tty.is_some() {
            ", terminal"
        } else {
            ""
        };
        let event = NewEvent {
            actor: actor.to_owned(),
            action: "exec".into(),
            service: Some(service.to_string()),
            detail: format!(
                "{container}: {program} ({} arguments{terminal})",
                request.command.len().saturating_sub(1)
            ),
            error: None,
        };
        if let Err(err) = self.registry.append_event(&event) {
            tracing::warn!(%err, "cannot record the exec event");
        }
    }
}

/// How many exec sessions a node runs at once (each holds a process, a
/// terminal or pipes, and the tasks that carry them).
pub(super) const MAX_SESSIONS: usize = 32;

/// The longest command line an exec may ask for, in bytes.
const MAX_COMMAND: usize = 64 * 1024;

/// A command to run: a program, no NUL byte (no process could take it), not
/// longer than [`MAX_COMMAND`]; a `TERM` of letters, digits and `.+-_`.
fn check_request(request: &ExecRequest) -> Result<(), EngineError> {
    let invalid = |m: &str| Err(EngineError::Invalid(format!("exec: {m}")));
    if request.command.first().is_none_or(String::is_empty) {
        return invalid("no command given");
    }
    if request.command.iter().any(|a| a.contains('\0')) {
        return invalid("a command argument holds a NUL byte");
    }
    if request.command.iter().map(|a| a.len() + 1).sum::<usize>() > MAX_COMMAND {
        return invalid("the command line is longer than 64 KiB");
    }
    let term_ok = |t: &str| {
        !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
    };
    if request.term.as_deref().is_some_and(|t| !term_ok(t)) {
        return invalid("TERM must be letters, digits and . + - _ (at most 64)");
    }
    Ok(())
}
