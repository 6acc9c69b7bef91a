"""metacircular_mcp: the Python SDK of the Metacircular Control Plane.

Service definitions (parse, validate, derive, edit), a fleet client (blocking
`Client`, asyncio `AsyncClient`), and offline planning (`PortPlanner`,
`plan_reconcile`). Everything is done by the same Rust library the `mcp` CLI and
the agent use.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, AsyncIterator, Iterator, List, Optional, TypeVar, Union

from metacircular_mcp._native import (
    Action,
    AgentError,
    AuthError,
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
    SpecError,
    StatusReport,
    SyncItem,
    __version__,
    load_dir,
    plan_reconcile,
)

__all__ = [
    "Action", "AgentError", "AsyncClient", "AuthError", "Certificate", "ChangedComponent",
    "Client", "Component", "ComponentStatus", "ComponentUsage",
    "ConnectionError", "DeployPreview", "Deployed", "Placement", "Desired", "DnsRecord", "EdgeRoute", "Event", "EventIterator",
    "ExecResult", "FieldChange", "LogIterator",
    "LogLine", "McpError", "MigrateStep", "NodeInfo", "NotFound", "Observed", "PlannedComponent", "PlannedItem",
    "PortAssignment", "PortLease", "PortPlanner", "Problem",
    "ProxyRoute", "Report", "ResolvedComponent", "ResolvedRoute", "ResolvedService", "Revision",
    "RevisionImage", "RolledBack", "Route",
    "ServiceDefinition", "ServiceStatus", "SpecError", "StatusReport", "SyncItem", "__version__", "load_dir",
    "plan_reconcile",
]

T = TypeVar("T")


async def _aiter(it: Iterator[T]) -> AsyncIterator[T]:
    sentinel = object()
    while True:
        item: Any = await asyncio.to_thread(next, it, sentinel)
        if item is sentinel:
            return
        yield item


class AsyncClient:
    """The asyncio flavour of `Client`: the same methods, awaitable; `logs` and
    `events` are async iterators. Calls run on worker threads, so many can be in
    flight at once (e.g. one per node with `asyncio.gather`)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @staticmethod
    async def from_config(path: Optional[str] = None) -> "AsyncClient":
        return AsyncClient(await asyncio.to_thread(Client.from_config, path))

    @property
    def node_names(self) -> List[str]:
        return self._client.node_names

    async def nodes(self) -> List[NodeInfo]:
        return await asyncio.to_thread(self._client.nodes)

    async def deploy(self, service: str) -> Deployed:
        return await asyncio.to_thread(self._client.deploy, service)

    async def diff(self, service: str, show_env: bool = False) -> DeployPreview:
        return await asyncio.to_thread(self._client.diff, service, show_env)

    async def exec(
        self,
        service: str,
        command: List[str],
        component: Optional[str] = None,
        node: Optional[str] = None,
        stdin: Optional[bytes] = None,
        timeout: Optional[float] = None,
    ) -> ExecResult:
        return await asyncio.to_thread(
            self._client.exec, service, command, component, node, stdin, timeout
        )

    async def adopt(self, service: str) -> Report:
        return await asyncio.to_thread(self._client.adopt, service)

    async def stop(self, service: str, node: Optional[str] = None) -> Report:
        return await asyncio.to_thread(self._client.stop, service, node)

    async def start(self, service: str, node: Optional[str] = None) -> Report:
        return await asyncio.to_thread(self._client.start, service, node)

    async def restart(self, service: str, node: Optional[str] = None) -> Report:
        return await asyncio.to_thread(self._client.restart, service, node)

    async def undeploy(self, service: str, node: Optional[str] = None) -> Report:
        return await asyncio.to_thread(self._client.undeploy, service, node)

    async def recover(self, node: Optional[str] = None) -> List[Report]:
        return await asyncio.to_thread(self._client.recover, node)

    async def ps(self, node: Optional[str] = None) -> List[ServiceStatus]:
        return await asyncio.to_thread(self._client.ps, node)

    async def top(
        self, service: Optional[str] = None, node: Optional[str] = None
    ) -> List[ComponentUsage]:
        return await asyncio.to_thread(self._client.top, service, node)

    async def status(self, service: str, node: Optional[str] = None) -> StatusReport:
        return await asyncio.to_thread(self._client.status, service, node)

    async def routes(self, node: str) -> List[ProxyRoute]:
        return await asyncio.to_thread(self._client.routes, node)

    async def dns_records(self, node: str) -> List[DnsRecord]:
        return await asyncio.to_thread(self._client.dns_records, node)

    async def edge_routes(self, node: Optional[str] = None, probe: bool = False) -> List[EdgeRoute]:
        return await asyncio.to_thread(self._client.edge_routes, node, probe)

    async def migrate(self, service: str, to: str, force: bool = False) -> List[MigrateStep]:
        return await asyncio.to_thread(self._client.migrate, service, to, force)

    async def sync(self, dry_run: bool = True, prune: bool = False) -> List[SyncItem]:
        return await asyncio.to_thread(self._client.sync, dry_run, prune)

    async def history(self, service: str, node: Optional[str] = None) -> List[Revision]:
        return await asyncio.to_thread(self._client.history, service, node)

    async def rollback(
        self,
        service: str,
        to: Optional[int] = None,
        node: Optional[str] = None,
        keep_definition: bool = False,
    ) -> RolledBack:
        return await asyncio.to_thread(self._client.rollback, service, to, node, keep_definition)

    async def restore_snapshot(
        self,
        service: str,
        snapshot: Optional[str] = None,
        force: bool = False,
        node: Optional[str] = None,
    ) -> Report:
        return await asyncio.to_thread(self._client.restore_snapshot, service, snapshot, force, node)

    async def logs(
        self,
        service: str,
        lines: Optional[int] = None,
        follow: bool = False,
        component: Optional[str] = None,
        node: Optional[str] = None,
        since: Union[str, datetime.timedelta, datetime.datetime, None] = None,
    ) -> AsyncIterator[LogLine]:
        it = await asyncio.to_thread(
            self._client.logs, service, lines, follow, component, node, since
        )
        async for line in _aiter(it):
            yield line

    async def events(
        self,
        service: Optional[str] = None,
        node: Optional[str] = None,
        limit: int = 50,
        follow: bool = False,
    ) -> AsyncIterator[Event]:
        it = await asyncio.to_thread(self._client.events, service, node, limit, follow)
        async for event in _aiter(it):
            yield event
