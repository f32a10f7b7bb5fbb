"""``push`` and ``pull``: runs, registry tags and artifact data through any git remote.

Finished runs are immutable: a push never forces a finished run on the remote and a pull never
rewrites a local finished run; a RUNNING run may be moved forward by its own host. Refs fetched
from a remote land first in a staging namespace (``refs/gittrack/incoming/<remote>/``) and only
valid runs are copied into ``refs/runs/``. Run indexes (``refs/runs-index/``, packed runs) are
merged, never overwritten: a fetched index is checked run by run and united with ours, and a
push that the remote rejects as not a fast-forward fetches, unites and pushes again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gittrack._data import dvcstore
from gittrack._registry.state import read_tag
from gittrack._registry.tags import parse_tag
from gittrack._registry.write import renumber
from gittrack._search.cache import SearchCache, referenced_data
from gittrack._store import naming, notes, packs, rules, runfiles, settings, transport
from gittrack._store.limits import MAX_PROBLEMS
from gittrack._store.packing import Progress, merge_fetched, pack_runs
from gittrack._store.remote import remote_runs, staging_prefix
from gittrack._store.repo import bounded_git_memory, ref_oid
from gittrack._store.runstore import RunRef, RunStore, visible_packed
from gittrack.errors import GittrackError, RemoteError

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")


@dataclass
class Conflict:
    """The same run ref with different content on both sides, both finished (or not ours)."""

    ref: str
    local: str
    remote: str
    reason: str


@dataclass
class SyncReport:
    """What a push or pull did."""

    remote: str
    sent: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    tags: int = 0
    data_objects: int = 0
    indexes: list[str] = field(default_factory=list)
    packed_runs: int = 0
    pruned: int = 0
    unreported: int = 0  # skipped refs past the report's limit
    missing_data: list[str] = field(default_factory=list)
    """Push: this clone's own runs whose artifact data is neither in the local DVC cache nor on
    the DVC remote (one line per run); the runs themselves were pushed."""


def _registry_tags(repo: pygit2.Repository) -> list[str]:
    """The registry's tags (GTO's grammar, registry/tags.py), to push with the runs."""
    return [name for name in repo.references if name.startswith("refs/tags/") and parse_tag(name[10:]) is not None]


def _skip(report: SyncReport, line: str) -> None:
    """Note a skipped ref; past the report's limit only count it (a hostile remote may push many)."""
    if len(report.skipped) < MAX_PROBLEMS:
        report.skipped.append(line)
    else:
        report.unreported += 1


def _dvc_objects(repo: pygit2.Repository, names: list[str] | None) -> list[dvcstore.DataEntry]:
    index = SearchCache(repo)
    try:
        index.sync()
        return [dvcstore.DataEntry(*item) for item in set(index.artifact_objects(names))]
    finally:
        index.close()


def push(
    repo: pygit2.Repository,
    remote: str | None = None,
    experiment: str | None = None,
    runs: list[str] | None = None,
    artifacts: bool = True,
    pack: bool | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Push run refs (all, one experiment's, or the runs given), run indexes, registry tags and
    artifact data. ``pack``: pack ended runs first; None (default): only when pushing all runs (of
    an experiment) and more than ``gittrack.autoPack`` runs have a ref of their own."""
    root = repo.workdir
    remote = transport.resolve_remote(repo, remote)
    store = RunStore(repo)
    packed = None
    if pack or (pack is None and not runs and _many_refs(store, experiment)):
        packed = pack_runs(repo, [experiment] if experiment else None, progress)
    if runs:
        refs = [store.resolve(spec) for spec in runs]
        refspecs = [f"{r.name}:{r.name}" for r in refs if not r.packed]
        indexes = sorted({packs.index_ref(r.experiment) for r in refs if r.packed})
    else:
        prefix = naming.experiment_prefix(experiment) if experiment else naming.RUNS_NAMESPACE
        refs, _ = store.refs(experiment, packed=False)
        refspecs = [f"{prefix}*:{prefix}*"] if refs else []
        indexes = sorted(n for n in packs.tips(repo) if experiment is None or n == packs.index_ref(experiment))
        refs += [ref for ref, _ in visible_packed(store.indexes(experiment), {r.name for r in refs})]
    report = SyncReport(transport.redact(remote))
    if artifacts and dvcstore.has_dvc(root):  # data first: a run never reaches the remote before its data
        _push_data(repo, remote, None if not runs and not experiment else refs, report)
    # runs first, registry tags after: a tag the remote's hook refuses never holds back runs
    results = transport.push(root, remote, refspecs + [f"{n}:{n}" for n in indexes])
    results += transport.push(root, remote, [f"{t}:{t}" for t in _registry_tags(repo)])
    if packed is not None:
        report.packed_runs = sum(packed.packed.values())
        report.skipped.extend(f"not packed: {line}" for line in packed.skipped)
    behind = []
    by_name = {r.name: r for r in refs}
    rejected = []
    clashing_tags = []
    for result in results:
        if result.ref.startswith(packs.INDEX_NAMESPACE):
            if result.ok and result.flag != "=":
                report.indexes.append(result.ref)
            elif not result.ok and "remote rejected" not in result.summary:
                behind.append(result.ref)  # not a fast-forward: someone else packed too
            elif not result.ok:
                report.refused.append(f"{result.ref}: {result.why}")
        elif result.ref.startswith("refs/tags/"):
            report.tags += result.flag in "*+ "
            if not result.ok and "already exists" in result.summary:
                clashing_tags.append(result.ref[len("refs/tags/") :])
            elif not result.ok:
                report.refused.append(f"{result.ref}: {result.why}")
        elif result.flag == "=":
            report.unchanged += 1
        elif result.ok:
            report.sent.append(result.ref)
        elif result.ref in by_name and "remote rejected" not in result.summary:
            rejected.append(by_name[result.ref])
        else:
            report.refused.append(f"{result.ref}: {result.why}")
    if rejected:
        staging = staging_prefix(remote)
        transport.fetch(root, remote, [f"+{r.name}:{staging}{r.name[5:]}" for r in rejected], prune=False)
        leases = {}
        for ref in rejected:
            theirs = ref_oid(repo.references[f"{staging}{ref.name[5:]}"])
            reason = rules.may_replace(repo, theirs, ref.commit)
            if reason is None:
                leases[ref.name] = str(theirs)
            else:
                report.conflicts.append(Conflict(ref.name, str(ref.commit), str(theirs), reason))
        forced = transport.push(root, remote, [f"+{n}:{n}" for n in leases], leases)
        report.sent.extend(r.ref for r in forced if r.ok)
        report.conflicts.extend(
            Conflict(r.ref, str(by_name[r.ref].commit), leases[r.ref], r.why) for r in forced if not r.ok
        )
    if behind:
        _push_merged_indexes(repo, remote, behind, report)
    if indexes and not runs and not any(line.startswith(packs.INDEX_NAMESPACE) for line in report.refused):
        _prune_remote_refs(repo, remote, experiment, report)
    if clashing_tags:
        _push_renumbered(repo, remote, clashing_tags, report)
    if repo.references.get(notes.NOTES_REF) is not None:
        _fetch_notes(repo, remote, report)
        for result in transport.push(root, remote, [f"{notes.NOTES_REF}:{notes.NOTES_REF}"]):
            if not result.ok:
                report.refused.append(f"{result.ref}: {result.why}")
    return report


def _fetch_notes(repo: pygit2.Repository, remote: str, report: SyncReport) -> None:
    """Merge the remote's metadata notes (experiments, model versions) into ours (store/notes.py)."""
    staging = staging_prefix(remote) + "notes/gittrack"
    try:  # a glob, so that a remote without notes is no error
        transport.fetch(repo.workdir, remote, [f"+{notes.NOTES_REF}*:{staging}*"], prune=False)
    except RemoteError as exc:
        report.skipped.append(f"{notes.NOTES_REF}: {exc}")
        return
    for ref in [r for r in repo.references.iterator() if r.name.startswith(staging)]:
        if ref.name == staging:
            try:
                notes.take_in(repo, ref_oid(ref))
            except GittrackError as exc:
                _skip(report, f"{notes.NOTES_REF}: {exc}")
        ref.delete()


def _push_data(repo: pygit2.Repository, remote: str, refs: list[RunRef] | None, report: SyncReport) -> None:
    """Send the DVC data of ``refs`` (None: of every run here) that the local DVC cache holds: every
    object a run references, its artifacts and models and the inputs its snapshot's DVC files record.

    Data the cache lacks is skipped, with one summary line, when the DVC remote has it already or
    when it belongs to someone else's run (pulled, its data never fetched: its author's push sends
    it). Data of this clone's own runs that is on neither side goes into ``report.missing_data``."""
    entries = _dvc_objects(repo, None if refs is None else [r.name for r in refs])
    if not entries:
        return
    dvc = dvcstore.open_dvc(repo.workdir.rstrip("/"))
    if dvcstore.remote_url(dvc) is None:
        report.skipped.append(
            f"the DVC data of the runs ({len(entries)} object(s)): no DVC remote is configured here; "
            "add one with 'gittrack init --dvc-remote URL --commit' and push again"
        )
        return
    outcome = dvcstore.push(dvc, entries)
    report.data_objects = outcome.sent
    absent = {e.md5 for e in outcome.absent}
    ours: set[str] = set()
    for ref in _own_runs(repo, remote, refs) if absent else []:
        try:
            record = runfiles.read_summary(repo, ref.commit)
        except GittrackError:
            continue
        lacking = sorted(
            {f"{item['path']} ({item['md5']})" for item in referenced_data(record) if item["md5"] in absent}
        )
        if lacking:
            ours.update(item["md5"] for item in referenced_data(record) if item["md5"] in absent)
            shown = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
            report.missing_data.append(
                f"run {ref.run_id} ({ref.experiment}): {len(lacking)} DVC object(s) ({shown}) are neither in the "
                "local DVC cache nor on the DVC remote; 'dvc add' or log them again in a new run, or push with "
                "--no-artifacts"
            )
    elsewhere = len(absent - ours)
    if outcome.on_remote or elsewhere:
        report.skipped.append(
            f"{len(outcome.on_remote) + elsewhere} artifact(s) whose data this clone lacks: "
            f"{len(outcome.on_remote)} already on the DVC remote, {elsewhere} on neither "
            "(others' runs whose data never reached the DVC remote)"
        )


def _own_runs(repo: pygit2.Repository, remote: str, refs: list[RunRef] | None) -> list[RunRef]:
    """This clone's own runs among ``refs`` (None: all): those the git remote does not hold yet, and
    those recorded by this git user on this host (pushed before, yet theirs to supply data for)."""
    import socket

    from gittrack._search.service import find_rows
    from gittrack._store.repo import identity

    refs = RunStore(repo).refs()[0] if refs is None else refs
    shared = remote_runs(repo, remote)
    me = (identity(repo)[0], socket.gethostname())
    mine = {row.ref for row in find_rows(repo).rows if (row.user, row.host) == me}
    return [r for r in refs if shared.get(r.name) != str(r.commit) or r.name in mine]


def _many_refs(store: RunStore, experiment: str | None) -> bool:
    """Whether more runs have a ref of their own than ``gittrack.autoPack`` allows before pushing."""
    limit = settings.auto_pack(store.repo)
    return limit > 0 and len(store.refs(experiment, packed=False)[0]) > limit


def _push_merged_indexes(repo: pygit2.Repository, remote: str, names: list[str], report: SyncReport) -> None:
    """Push run indexes the remote refused as not fast-forwards: fetch theirs, unite it with ours
    (checking every run it adds), and push the union, leased on the tip we fetched."""
    for _attempt in range(5):
        if not names:
            return
        fetched = _fetch_indexes(repo, remote, names, report)
        leases = {name: str(fetched[name]) for name in names if name in fetched}
        pushed = transport.push(repo.workdir, remote, [f"{n}:{n}" for n in names], leases)
        report.indexes.extend(r.ref for r in pushed if r.ok and r.flag != "=")
        names = [r.ref for r in pushed if not r.ok]
    report.refused.extend(f"{name}: the remote's index kept changing; push again" for name in names)


def _prune_remote_refs(repo: pygit2.Repository, remote: str, experiment: str | None, report: SyncReport) -> None:
    """Remove the remote's own refs of runs that the indexes just pushed hold with the same commit,
    so its ref advertisement shrinks as runs are packed; each removal is leased on that commit."""
    prefix = naming.experiment_prefix(experiment) if experiment else naming.RUNS_NAMESPACE
    theirs = transport.remote_refs(repo.workdir, remote, [f"{prefix}*"])
    packed = {ref.name: str(ref.commit) for ref, _ in visible_packed(RunStore(repo).indexes(experiment), set())}
    doomed = sorted(name for name, target in theirs.items() if packed.get(name) == target)
    for chunk in _chunks(doomed):
        results = transport.push(repo.workdir, remote, [f":{name}" for name in chunk], {n: theirs[n] for n in chunk})
        report.pruned += sum(1 for r in results if r.ok)


def _chunks(names: list[str], limit: int = 100_000) -> list[list[str]]:
    """Split ref names into groups whose command line (refspec and lease per ref) stays short."""
    chunks: list[list[str]] = [[]]
    size = 0
    for name in names:
        if chunks[-1] and size + 2 * len(name) + 80 > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(name)
        size += 2 * len(name) + 80
    return [chunk for chunk in chunks if chunk]


def _fetch_indexes(
    repo: pygit2.Repository,
    remote: str,
    names: list[str] | str,
    report: SyncReport,
    progress: Progress | None = None,
    claims: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, pygit2.Oid]:
    """Fetch the remote's run indexes (a list of refs, or a ``refs/runs-index/...`` glob prefix)
    into staging and merge each into ours; returns the fetched tips by local name. ``claims``
    gets, by run ref name, the commits the remote's indexes pack each run with."""
    staging = staging_prefix(remote)
    if isinstance(names, str):
        spec = [f"+{names}*:{staging}{names[len('refs/') :]}*"]
    else:
        spec = [f"+{n}:{staging}{n[len('refs/') :]}" for n in names]
    transport.fetch(repo.workdir, remote, spec, prune=isinstance(names, str))
    fetched = {}
    for name, tip in packs.tips(repo, f"{staging}{packs.INDEX_NAMESPACE[len('refs/') :]}").items():
        local_name = "refs/" + name[len(staging) :]
        wanted = local_name in names if isinstance(names, list) else names in (packs.INDEX_NAMESPACE, local_name)
        if not wanted:
            continue
        try:
            new_tip, intake = merge_fetched(repo, local_name, tip, progress)
        except GittrackError as exc:
            report.skipped.append(f"{local_name}: {exc}")
            continue
        fetched[local_name] = tip
        if claims is not None:
            claims.update((naming.run_ref(intake.experiment, run_id), c) for run_id, c in intake.claims.items())
        for line in intake.rejected:
            _skip(report, line)
        report.conflicts.extend(Conflict(*sides, "both sides hold different versions") for sides in intake.conflicts)
        if new_tip is None:
            continue
        local = repo.references.get(local_name)
        old = ref_oid(local) if local is not None else None
        if new_tip != old:
            packs.move(repo, local_name, old, new_tip)
            report.indexes.append(local_name)
        report.packed_runs += intake.added
    return fetched


def _push_renumbered(repo: pygit2.Repository, remote: str, clashing: list[str], report: SyncReport) -> None:
    """Stage tags that someone else pushed first under the same name (two people promoting at
    once): take the next free counter and a later date, and push again, so both events survive."""

    for _attempt in range(5):
        if not clashing:
            return
        staging = staging_prefix(remote) + "tags/"
        models = {p.model for p in (parse_tag(t) for t in clashing) if p is not None}
        transport.fetch(repo.workdir, remote, [f"+refs/tags/{m}*:{staging}{m}*" for m in sorted(models)], prune=False)
        taken: dict[str, int] = {}
        for ref in repo.references.iterator():
            if ref.name.startswith(staging):
                read = read_tag(repo, ref.target)
                if not isinstance(read, str):
                    taken[ref.name[len(staging) :]] = read[1]
        renamed = [renumber(repo, tag, taken) for tag in clashing]
        for old, new in zip(clashing, renamed, strict=True):
            if new is None:
                report.skipped.append(f"refs/tags/{old}: exists on the remote with other content")
        pushed = transport.push(repo.workdir, remote, [f"refs/tags/{n}:refs/tags/{n}" for n in renamed if n])
        report.tags += sum(1 for r in pushed if r.ok)
        clashing = [r.ref[len("refs/tags/") :] for r in pushed if not r.ok]
    report.skipped.extend(f"refs/tags/{t}: still clashing after renumbering; push again" for t in clashing)


def pull(
    repo: pygit2.Repository,
    remote: str | None = None,
    experiment: str | None = None,
    artifacts: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Fetch run refs (all, or one experiment's) and registry tags; take in only valid runs."""
    root = repo.workdir
    remote = transport.resolve_remote(repo, remote)
    staging = staging_prefix(remote)
    source = naming.experiment_prefix(experiment) if experiment else naming.RUNS_NAMESPACE
    target = f"{staging}{source[len('refs/') :]}"
    transport.fetch(root, remote, [f"+{source}*:{target}*"], prune=True)
    report = SyncReport(transport.redact(remote))
    indexes = packs.index_ref(experiment) if experiment else packs.INDEX_NAMESPACE
    incoming = [(ref.name, ref_oid(ref)) for ref in repo.references.iterator() if ref.name.startswith(target)]
    claims: dict[str, tuple[str, ...]] = {}
    with bounded_git_memory():  # every packed run is read once: caches would only grow
        _fetch_indexes(repo, remote, indexes, report, progress, claims if incoming else None)
    try:
        transport.fetch(root, remote, ["refs/tags/*:refs/tags/*"], prune=False)
    except RemoteError as exc:
        report.skipped.append(f"tags: {exc}")
    _fetch_notes(repo, remote, report)
    store = RunStore(repo)
    packed = {ref.name: ref.commit for ref, _ in visible_packed(store.indexes(experiment), set())} if incoming else {}
    for done, (name, commit) in enumerate(incoming, start=1):
        if progress is not None:
            progress(done, len(incoming))
        local_name = "refs/" + name[len(staging) :]
        local = repo.references.get(local_name)
        if (local is not None and local.target == commit) or (local is None and packed.get(local_name) == commit):
            report.unchanged += 1
            continue
        if local is None and local_name in packed:
            report.conflicts.append(
                Conflict(local_name, str(packed[local_name]), str(commit), "both sides hold different versions")
            )
            continue
        claimed = claims.get(local_name)
        if claimed is not None and str(commit) not in claimed:
            packed_at = claimed[0][:12]
            _skip(report, f"{local_name}: the remote packs this run with commit {packed_at}; its ref must point there")
            continue
        try:
            experiment_name, run_id = naming.parse_run_ref(local_name)
            rules.check_incoming_run(repo, commit, experiment_name, run_id)
        except GittrackError as exc:
            _skip(report, f"{local_name}: {exc}")
            continue
        if local is None:
            repo.references.create(local_name, commit)
            report.sent.append(local_name)
            continue
        reason = rules.may_replace(repo, ref_oid(local), commit, where="here")
        if reason is None:
            local.set_target(commit)
            report.updated.append(local_name)
        else:
            report.conflicts.append(Conflict(local_name, str(local.target), str(commit), reason))
    if report.unreported:
        report.skipped.append(f"{report.unreported} more refs skipped")
    for line in report.skipped:
        log.warning("gittrack: skipped %s", line)
    if artifacts and dvcstore.has_dvc(root):
        names = None if not experiment else [r.name for r in store.refs(experiment)[0]]
        entries = _dvc_objects(repo, names)
        if entries:
            report.data_objects = dvcstore.fetch(dvcstore.open_dvc(root.rstrip("/")), entries)
    return report


FETCH_REFSPEC = "refs/runs/*:refs/runs/*"


def setup_remote(repo: pygit2.Repository, remote: str, push_runs: bool = True) -> list[str]:
    """Make plain ``git fetch``/``git push`` of ``remote`` move runs too; returns the config lines added.

    Fetch: ``refs/runs/*:refs/runs/*`` without ``+``, so git never overwrites a local run.
    Push (``push_runs``): ``HEAD`` and ``refs/runs/*:refs/runs/*``, so ``git push`` still pushes
    the current branch and also the runs.
    """
    if remote not in repo.remotes.names():
        raise GittrackError(f"no remote named {remote!r}; add it first with 'git remote add {remote} URL'")
    config = repo.config
    added = []
    fetches = list(config.get_multivar(f"remote.{remote}.fetch"))
    if FETCH_REFSPEC not in fetches:
        config.set_multivar(f"remote.{remote}.fetch", "^$", FETCH_REFSPEC)
        added.append(f"remote.{remote}.fetch = {FETCH_REFSPEC}")
    if push_runs:
        pushes = list(config.get_multivar(f"remote.{remote}.push"))
        for spec in ("HEAD", FETCH_REFSPEC):
            if spec not in pushes:
                config.set_multivar(f"remote.{remote}.push", "^$", spec)
                added.append(f"remote.{remote}.push = {spec}")
    return added
