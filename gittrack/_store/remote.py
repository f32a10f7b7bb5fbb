"""What a remote holds, read without changing anything local: the staging namespace that fetched
refs land in before they are checked, and the runs (own refs and packed) a remote has."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from gittrack._store import naming, packs, transport
from gittrack._store.runstore import visible_packed

if TYPE_CHECKING:
    import pygit2

STAGING = "refs/gittrack/incoming/"


def staging_prefix(remote: str) -> str:
    """A ref-safe staging prefix for one remote (names and URLs alike)."""
    safe = naming.encode_component(remote)
    if len(safe) > 80:
        safe = hashlib.sha256(remote.encode()).hexdigest()[:32]
    return f"{STAGING}{safe}/"


def remote_runs(repo: pygit2.Repository, remote: str) -> dict[str, str]:
    """Every run a remote holds, with a ref of its own or packed: run ref name -> commit (hex).

    The remote's run indexes are fetched into staging to be read; nothing local changes."""
    found = transport.remote_refs(repo.workdir, remote, [f"{naming.RUNS_NAMESPACE}*"])
    staging = staging_prefix(remote) + "peek/"
    transport.fetch(repo.workdir, remote, [f"+{packs.INDEX_NAMESPACE}*:{staging}*"], prune=True)
    for name, tip in packs.tips(repo, staging).items():
        index = packs.read_named(repo, packs.INDEX_NAMESPACE + name[len(staging) :], tip)
        for ref, run in visible_packed([index], set(found)):
            found[ref.name] = run.commit
    return found
