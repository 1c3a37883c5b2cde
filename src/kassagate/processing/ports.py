"""What processing needs from the outside, as protocols: the request queue, the account
reads, the registers. ``storage`` implements the first two over the database
(:class:`kassagate.storage.queue.RequestQueue`, :class:`kassagate.storage.repos.Accounts`),
``registers.py`` the third; the unit tests run the worker on in-memory fakes of all three.
"""

from __future__ import annotations

from typing import Any, Protocol

from kassagate.processing.registers import RegisterHandle
from kassagate.storage.queue import Claimed, End, Ended, Event
from kassagate.storage.repos import Cluster, Kassa


class WorkQueue(Protocol):
    """Accepted requests, claimed under a lease; only the lease holder writes to one."""

    async def claim(self, owner: str, *, limit: int, lease_us: int) -> list[Claimed]: ...

    async def record_register(self, request_id: int, owner: str, kkt_id: int, *,
                              event: Event | None = None) -> bool: ...

    async def retry_later(self, request_id: int, owner: str, *, delay_us: int, note: str,
                          ruled_out: bool = False, event: Event | None = None) -> None: ...

    async def finish(self, end: End) -> Ended: ...


class AccountReader(Protocol):
    """The kassas and clusters a request is routed by."""

    async def get_kassa(self, kassaid: str) -> Kassa | None: ...

    async def get_cluster(self, cluster_id: str) -> Cluster | None: ...

    async def cluster_members(self, cluster_id: str) -> list[Kassa]: ...


class Registers(Protocol):
    """The registers by id (``UnknownRegister`` for an id that names none)."""

    async def get(self, kkt_id: int) -> RegisterHandle: ...


class AskRegister(Protocol):
    """The register's ``/get_info``, recorded where the intake and the routing read it
    (None when the register cannot answer)."""

    async def __call__(self, handle: RegisterHandle) -> dict[str, Any] | None: ...
