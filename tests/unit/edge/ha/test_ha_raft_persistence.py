"""The replicated table on disk: after all three members restart at once, the fencing
token and the Raft term carry on from where they were, never from 1 again.

Three real pysyncobj members on loopback, each with its own state directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ems.edge.ha.config import HaConfig
from ems.edge.ha.raft import RAFT_DUMP_FILE, RAFT_JOURNAL_FILE, HaSync
from ems.edge.ha.table import Grant
from support.processes import free_port

#: Only a hang reaches it: an election and a commit on loopback take well under 1 s.
COMMIT_WAIT_S = 20.0


def _config(addresses: list[str]) -> HaConfig:
    return HaConfig.model_validate(
        {
            "nodes": [
                {"name": "a", "address": addresses[0]},
                {"name": "b", "address": addresses[1]},
            ],
            "witness": addresses[2],
        }
    )


class Group:
    def __init__(self, root: Path) -> None:
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        self.dirs = [root / name for name in ("a", "b", "witness")]
        self.members: list[HaSync] = []

    def start(self) -> None:
        config = _config(self.addresses)
        for i, address in enumerate(self.addresses):
            others = [a for a in self.addresses if a != address]
            self.members.append(HaSync(address, others, config, state_dir=self.dirs[i]))

    def stop(self) -> None:
        for member in self.members:
            member.destroy_synchronous()
        self.members = []

    def acquire(self, node: str, now_s: float) -> Grant:
        # sync=True: blocks until a quorum committed it (pysyncobj waits for a leader).
        grant = self.members[0].acquire(node, now_s, 1.0, sync=True, timeout=COMMIT_WAIT_S)
        assert isinstance(grant, Grant)
        return grant

    def term(self) -> int:
        return max(int(m.raftCurrentTerm) for m in self.members)


@pytest.fixture
def group(tmp_path: Path) -> Iterator[Group]:
    group = Group(tmp_path)
    yield group
    group.stop()


# pysyncobj's FileJournal.getMeta opens its .meta file without closing it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_token_and_term_only_grow_across_a_restart_of_all_three(group: Group) -> None:
    group.start()
    assert group.acquire("a", 1000.0).token == 1
    assert group.acquire("b", 1010.0).token == 2  # a's lease lapsed: b, a new token
    for member in group.members:
        member.forceLogCompaction()  # the table into the dump; the journal keeps the rest
    assert group.acquire("a", 1020.0).token == 3
    term_before = group.term()
    group.stop()
    assert all((d / RAFT_JOURNAL_FILE).exists() for d in group.dirs)
    assert any((d / RAFT_DUMP_FILE).exists() for d in group.dirs)

    group.start()
    # The last holder's lease is long over: the next grant carries on from token 3.
    grant = group.acquire("b", 2000.0)
    assert (grant.holder, grant.token) == ("b", 4)
    table = group.members[0].table
    assert (table.holder, table.token) == ("b", 4)
    assert group.term() >= term_before
