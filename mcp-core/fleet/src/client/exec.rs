//! A command running on a node, as the client holds it: [`RemoteExec`]
//! (what [`super::AgentClient::exec`] returns; `Fleet::exec` starts one).

use mcp_model::view::{ExecInput, ExecOutput};
use mcp_proto::convert;
use mcp_proto::v1;
use tokio::sync::mpsc;

use super::error::ApiError;

/// A command running on a node: send it input, read its output until
/// [`ExecOutput::Exit`]. Dropping it ends the call, and the node kills the
/// command.
#[derive(Debug)]
pub struct RemoteExec {
    input: mpsc::Sender<v1::ExecRequest>,
    output: tonic::Streaming<v1::ExecReply>,
}

impl RemoteExec {
    pub(crate) fn new(
        input: mpsc::Sender<v1::ExecRequest>,
        output: tonic::Streaming<v1::ExecReply>,
    ) -> Self {
        RemoteExec { input, output }
    }

    /// Sends `input`; `false` when the command no longer takes any (it ended).
    pub async fn send(&self, input: ExecInput) -> bool {
        self.input
            .send(convert::encode_exec_input(input))
            .await
            .is_ok()
    }

    /// A sender of input that can be moved to another task (a reader of the
    /// local terminal).
    pub fn input(&self) -> ExecInputSender {
        ExecInputSender(self.input.clone())
    }

    /// The next output; `None` when the node ended the call without an exit
    /// status (it should not).
    pub async fn next(&mut self) -> Result<Option<ExecOutput>, crate::Error> {
        match self.output.message().await {
            Ok(Some(reply)) => Ok(Some(
                convert::decode_exec_output(reply).map_err(ApiError::from)?,
            )),
            Ok(None) => Ok(None),
            Err(s) => Err(ApiError::from(mcp_proto::status::from_status(&s)).into()),
        }
    }
}

/// Input for a [`RemoteExec`], from wherever it comes.
#[derive(Debug, Clone)]
pub struct ExecInputSender(mpsc::Sender<v1::ExecRequest>);

impl ExecInputSender {
    /// Sends `input`; `false` when the command takes no more.
    pub async fn send(&self, input: ExecInput) -> bool {
        self.0.send(convert::encode_exec_input(input)).await.is_ok()
    }

    /// [`ExecInputSender::send`] from a thread outside the async runtime (a
    /// blocking read of the local terminal).
    pub fn blocking_send(&self, input: ExecInput) -> bool {
        self.0
            .blocking_send(convert::encode_exec_input(input))
            .is_ok()
    }
}
