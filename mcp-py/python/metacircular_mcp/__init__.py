"""metacircular_mcp: the Python SDK of the Metacircular Control Plane.

Service definitions (parse, validate, derive, edit), a fleet client (blocking
`Client`, asyncio `AsyncClient`), and offline planning (`PortPlanner`,
`plan_reconcile`). Everything is done by the same Rust library the `mcp` CLI and
the agent use.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import Any, AsyncIterator, Callable, List, Literal, Optional, TypeVar, Union

from metacircular_mcp._native import (
    Action,
    _Cancel,
    AgentError,
    AuthError,
    BuiltImage,
    Certificate,
    ChangedComponent,
    Client,
    Component,
    ComponentStatus,
    ComponentUsage,
    ConnectionError,
    DeployPreview,
    Deployed,
    Placement,
    Desired,
    DnsRecord,
    EdgeRoute,
    Event,
    EventIterator,
    ExecResult,
    FieldChange,
    LogIterator,
    LogLine,
    Login,
    McpError,
    MigrateStep,
    NodeInfo,
    NotFound,
    Observed,
    PortAssignment,
    PortLease,
    PlannedComponent,
    PlannedItem,
    PortPlanner,
    Problem,
    ProxyRoute,
    Report,
    ResolvedComponent,
    ResolvedRoute,
    ResolvedService,
    Revision,
    RevisionImage,
    RolledBack,
    Route,
    ServiceDefinition,
    ServiceStatus,
    SnapshotInfo,
    SpecError,
    StatusReport,
    SyncItem,
    __version__,
    load_dir,
    plan_reconcile,
)

__all__ = [
    "Action", "AgentError", "AsyncClient", "AuthError", "BuiltImage", "Certificate", "ChangedComponent",
    "Client", "Component", "ComponentStatus", "ComponentUsage",
    "ConnectionError", "DeployPreview", "Deployed", "Placement", "Desired", "DnsRecord", "EdgeRoute", "Event", "EventIterator",
    "ExecResult", "FieldChange", "LogIterator",
    "LogLine", "Login", "McpError", "MigrateStep", "NodeInfo", "NotFound", "Observed", "PlannedComponent", "PlannedItem",
    "PortAssignment", "PortLease", "PortPlanner", "Problem",
    "ProxyRoute", "Report", "ResolvedComponent", "ResolvedRoute", "ResolvedService", "Revision",
    "RevisionImage", "RolledBack", "Route",
    "ServiceDefinition", "ServiceStatus", "SnapshotInfo", "SpecError", "StatusReport", "SyncItem", "__version__", "load_dir",
    "plan_reconcile",
]

T = TypeVar("T")


async def _run(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a worker thread; when the awaiting task is cancelled,
    the call is told to stop (it ends within 0.1 s), so nothing is left
    waiting when the event loop closes."""
    token = _Cancel()

    def work() -> T:
        with token:
            return fn(*args)

    try:
        return await asyncio.to_thread(work)
    except asyncio.CancelledError:
        token.cancel()
        raise


async def _aiter(it: Union[LogIterator, EventIterator]) -> AsyncIterator[Any]:
    """The items of `it`, each waited for on a worker thread; the iterator is
    closed when the iteration ends, is cancelled or is abandoned."""
    sentinel = object()
    try:
        while True:
            item: Any = await asyncio.to_thread(next, it, sentinel)
            if item is sentinel:
                return
            yield item
    finally:
        it.close()


class AsyncClient:
    """The asyncio flavour of `Client`: the same methods, awaitable; `logs` and
    `events` are async iterators. Calls run on worker threads, so many can be in
    flight at once (e.g. one per node with `asyncio.gather`); cancelling a call
    or an iteration (`asyncio.timeout`, `task.cancel()`) stops it at once.
    An async context manager: leaving it closes the client."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @staticmethod
    async def from_config(path: Optional[str] = None, timeout: Optional[float] = None) -> "AsyncClient":
        return AsyncClient(await asyncio.to_thread(Client.from_config, path, timeout))

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self._client!r})"

    @property
    def node_names(self) -> List[str]:
        return self._client.node_names

    async def nodes(self, timeout: Optional[float] = None) -> List[NodeInfo]:
        return await _run(self._client.nodes, timeout)

    async def deploy(self, service: Union[str, "os.PathLike[str]", ServiceDefinition], timeout: Optional[float] = None) -> Deployed:
        return await _run(self._client.deploy, service, timeout)

    async def diff(
        self, service: Union[str, "os.PathLike[str]", ServiceDefinition], show_env: bool = False, timeout: Optional[float] = None
    ) -> DeployPreview:
        return await _run(self._client.diff, service, show_env, timeout)

    async def exec(
        self,
        service: str,
        command: List[str],
        component: Optional[str] = None,
        node: Optional[str] = None,
        stdin: Optional[bytes] = None,
        timeout: Optional[float] = None,
    ) -> ExecResult:
        return await _run(self._client.exec, service, command, component, node, stdin, timeout)

    async def adopt(self, service: str, timeout: Optional[float] = None) -> Report:
        return await _run(self._client.adopt, service, timeout)

    async def stop(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> Report:
        return await _run(self._client.stop, service, node, timeout)

    async def start(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> Report:
        return await _run(self._client.start, service, node, timeout)

    async def restart(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> Report:
        return await _run(self._client.restart, service, node, timeout)

    async def undeploy(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> Report:
        return await _run(self._client.undeploy, service, node, timeout)

    async def snapshot(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> SnapshotInfo:
        return await _run(self._client.snapshot, service, node, timeout)

    async def snapshots(
        self, service: str, node: Optional[str] = None, timeout: Optional[float] = None
    ) -> List[SnapshotInfo]:
        return await _run(self._client.snapshots, service, node, timeout)

    async def recover(self, node: Optional[str] = None, timeout: Optional[float] = None) -> List[Report]:
        return await _run(self._client.recover, node, timeout)

    async def ps(self, node: Optional[str] = None, timeout: Optional[float] = None) -> List[ServiceStatus]:
        return await _run(self._client.ps, node, timeout)

    async def top(
        self, service: Optional[str] = None, node: Optional[str] = None, timeout: Optional[float] = None
    ) -> List[ComponentUsage]:
        return await _run(self._client.top, service, node, timeout)

    async def status(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> StatusReport:
        return await _run(self._client.status, service, node, timeout)

    async def wait(
        self,
        service: str,
        version: Optional[str] = None,
        state: str = "running",
        timeout: float = 60.0,
        node: Optional[str] = None,
    ) -> ServiceStatus:
        return await _run(self._client.wait, service, version, state, timeout, node)

    async def routes(self, node: str, timeout: Optional[float] = None) -> List[ProxyRoute]:
        return await _run(self._client.routes, node, timeout)

    async def dns_records(self, node: str, timeout: Optional[float] = None) -> List[DnsRecord]:
        return await _run(self._client.dns_records, node, timeout)

    async def edge_routes(
        self, node: Optional[str] = None, probe: bool = False, timeout: Optional[float] = None
    ) -> List[EdgeRoute]:
        return await _run(self._client.edge_routes, node, probe, timeout)

    async def migrate(
        self, service: str, to: str, force: bool = False, timeout: Optional[float] = None
    ) -> List[MigrateStep]:
        return await _run(self._client.migrate, service, to, force, timeout)

    async def sync(self, dry_run: bool = True, prune: bool = False, timeout: Optional[float] = None) -> List[SyncItem]:
        return await _run(self._client.sync, dry_run, prune, timeout)

    async def add_route(
        self,
        node: str,
        listener: str,
        hostname: str,
        backend: str,
        mode: Literal["l4", "l7"] = "l4",
        tls_cert: Optional[str] = None,
        tls_key: Optional[str] = None,
        backend_tls: bool = False,
        timeout: Optional[float] = None,
    ) -> None:
        await _run(
            self._client.add_route, node, listener, hostname, backend, mode, tls_cert, tls_key, backend_tls, timeout
        )

    async def remove_route(self, node: str, listener: str, hostname: str, timeout: Optional[float] = None) -> None:
        await _run(self._client.remove_route, node, listener, hostname, timeout)

    async def build(
        self, service: Union[str, "os.PathLike[str]", ServiceDefinition], timeout: Optional[float] = None
    ) -> List[BuiltImage]:
        return await _run(self._client.build, service, timeout)

    async def login(
        self, username: str, password: str, totp: Optional[str] = None, timeout: Optional[float] = None
    ) -> Login:
        return await _run(self._client.login, username, password, totp, timeout)

    async def history(self, service: str, node: Optional[str] = None, timeout: Optional[float] = None) -> List[Revision]:
        return await _run(self._client.history, service, node, timeout)

    async def rollback(
        self,
        service: str,
        to: Optional[int] = None,
        node: Optional[str] = None,
        keep_definition: bool = False,
        timeout: Optional[float] = None,
    ) -> RolledBack:
        return await _run(self._client.rollback, service, to, node, keep_definition, timeout)

    async def restore_snapshot(
        self,
        service: str,
        snapshot: Optional[str] = None,
        force: bool = False,
        node: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Report:
        return await _run(self._client.restore_snapshot, service, snapshot, force, node, timeout)

    async def logs(
        self,
        service: str,
        lines: Optional[int] = None,
        follow: bool = False,
        component: Optional[str] = None,
        node: Optional[str] = None,
        since: Union[str, datetime.timedelta, datetime.datetime, None] = None,
        timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
    ) -> AsyncIterator[LogLine]:
        it = await _run(
            self._client.logs, service, lines, follow, component, node, since, timeout, idle_timeout
        )
        async for line in _aiter(it):
            yield line

    async def events(
        self,
        service: Optional[str] = None,
        node: Optional[str] = None,
        limit: Optional[int] = None,
        follow: bool = False,
        timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        after: Optional[int] = None,
    ) -> AsyncIterator[Event]:
        it = await _run(self._client.events, service, node, limit, follow, timeout, idle_timeout, after)
        async for event in _aiter(it):
            yield event
