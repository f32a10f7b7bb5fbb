"""Metadata that belongs to no run: experiment tags and descriptions, registered-model and
model-version descriptions and tags. Stored as git notes on ``refs/notes/gittrack``.

Each note is an append-only event log, one JSON object a line, ``{"t": <epoch ms>, "k": <field>,
"v": <text or null>}`` (null removes the field). The state is the replay of the lines in
``(t, line)`` order, so two clones' notes merge by taking the union of their lines: nothing is
lost and both sides agree on the result (``git notes merge -s cat_sort_uniq`` computes the same).

A note annotates the object it describes: a registry tag object for a model version, or, for
things git has no object of (an experiment, a registered model), a small blob naming it
(``gittrack experiment\\n<name>\\n``), written into the object database.

Notes come from remotes, so they are read as untrusted: bounded sizes, malformed lines skipped,
and a notes tree is measured (notes, and the bytes they add up to) before any note is read:
many entries may name one large blob.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from gittrack._store.limits import MAX_NOTE_BYTES, MAX_NOTES, MAX_NOTES_BYTES
from gittrack.errors import MalformedRunError

if TYPE_CHECKING:
    import pygit2

NOTES_REF = "refs/notes/gittrack"
# what only this clone decides (an experiment's lifecycle): never pushed, never taken from a remote
LOCAL_REF = "refs/gittrack/local-notes"
MAX_LINE_BYTES = 64 * 1024
MAX_FIELD_CHARS = 250
_MAX_DEPTH = 20  # git fans notes out two hex digits a level: 40 digits make at most 20 levels
_MEASURED: dict[str, str | None] = {}  # notes tree id -> its problem (None: within the limits)
MAX_VALUE_CHARS = 20_000
EXPERIMENT, MODEL = "experiment", "model"


def subject(repo: pygit2.Repository, kind: str, name: str) -> pygit2.Oid:
    """The object a note about the experiment or registered model ``name`` annotates (written if missing)."""
    return repo.create_blob(_subject_bytes(kind, name))


def subject_id(kind: str, name: str) -> pygit2.Oid:
    """The id :func:`subject` gives, computed without writing the blob (for lookups)."""
    import pygit2

    return pygit2.hash(_subject_bytes(kind, name))


def _subject_bytes(kind: str, name: str) -> bytes:
    return f"gittrack {kind}\n{name}\n".encode()


def parse_lines(data: bytes) -> list[tuple[int, str, str | None, str]]:
    """The valid events of a note as ``(t, field, value, line)``; anything malformed is skipped."""
    if len(data) > MAX_NOTE_BYTES:
        data = data[:MAX_NOTE_BYTES]
    events = []
    for raw in data.split(b"\n"):
        if not raw.strip() or len(raw) > MAX_LINE_BYTES:
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        t, key, value = item.get("t"), item.get("k"), item.get("v")
        if (
            type(t) is not int
            or not isinstance(key, str)
            or not 0 < len(key) <= MAX_FIELD_CHARS
            or not (value is None or (isinstance(value, str) and len(value) <= MAX_VALUE_CHARS))
        ):
            continue
        events.append((t, key, value, raw.decode("utf-8", "replace")))
    events.sort(key=lambda e: (e[0], e[3]))
    return events


def format_event(t: int, key: str, value: str | None) -> str:
    """One line of a note."""
    return json.dumps({"t": t, "k": key, "v": value}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def current_lines(data: bytes, now: int | None = None) -> list[tuple[int, str, str | None, str]]:
    """:func:`parse_lines` without the events dated more than ``MAX_FUTURE_SECONDS`` ahead of
    ``now`` (epoch ms, default: this clock): a line claiming a future time would otherwise come
    after every edit made until then, and undo them (it counts once its time has come; merges
    keep it meanwhile, so clones still agree)."""
    from gittrack._store.limits import MAX_FUTURE_SECONDS
    from gittrack._store.timefmt import now_ms

    horizon = (now_ms() if now is None else now) + MAX_FUTURE_SECONDS * 1000
    return [event for event in parse_lines(data) if event[0] <= horizon]


def state(data: bytes) -> tuple[dict[str, str], int | None, int | None]:
    """``(fields, first time, last time)`` of a note: each field's last value (removed ones left
    out), replaying the lines of :func:`current_lines`."""
    fields: dict[str, str] = {}
    events = current_lines(data)
    for _, key, value, _ in events:
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    if not events:
        return fields, None, None
    return fields, events[0][0], events[-1][0]


def merge(*notes: bytes) -> bytes:
    """The union of several versions of one note's lines, in replay order."""
    lines = {line for data in notes for *_, line in parse_lines(data)}
    ordered = sorted(lines, key=lambda line: (json.loads(line)["t"], line))
    return ("\n".join(ordered) + "\n").encode() if ordered else b""


def expansion_problem(repo: pygit2.Repository, commit: pygit2.Oid) -> str | None:
    """Why the notes commit ``commit`` is over the limits (None: it is within them): more than
    ``MAX_NOTES`` entries, a note over ``MAX_NOTE_BYTES`` or all of them over ``MAX_NOTES_BYTES``,
    counted from the tree and the objects' headers before any note is read."""
    import pygit2

    try:
        tree = repo[commit].peel(pygit2.Tree)
    except (KeyError, ValueError, pygit2.InvalidSpecError):
        return f"{str(commit)[:12]} is not a notes commit"
    key = str(tree.id)
    if key in _MEASURED:
        return _MEASURED[key]
    sizes: dict[pygit2.Oid, int] = {}
    count = total = 0
    pending = [(tree, 0)]
    problem = None
    while pending and problem is None:
        folder, depth = pending.pop()
        for entry in folder:
            if entry.filemode == pygit2.GIT_FILEMODE_TREE:
                if depth >= _MAX_DEPTH:
                    problem = f"nests folders deeper than {_MAX_DEPTH} levels"
                    break
                pending.append((repo[entry.id].peel(pygit2.Tree), depth + 1))
                continue
            count += 1
            size = sizes.get(entry.id)
            if size is None:
                size = sizes[entry.id] = repo.odb.read_header(entry.id)[1]
            total += size
            if count > MAX_NOTES:
                problem = f"holds more than {MAX_NOTES} notes"
            elif size > MAX_NOTE_BYTES:
                problem = f"holds a note of {size} bytes, over the {MAX_NOTE_BYTES} byte limit"
            elif total > MAX_NOTES_BYTES:
                problem = f"holds notes adding up to more than {MAX_NOTES_BYTES} bytes"
            if problem is not None:
                break
    if len(_MEASURED) > 1000:
        _MEASURED.clear()
    _MEASURED[key] = problem
    return problem


def dropped(repo: pygit2.Repository, old: pygit2.Oid, new: pygit2.Oid) -> str | None:
    """What the notes commit ``new`` drops of ``old``: a note, or a valid line of one (None:
    nothing). Compares the changed entries only, by annotated object (git may fan a note out to
    another path); both commits are within the limits."""
    import pygit2

    diff = repo[old].peel(pygit2.Tree).diff_to_tree(repo[new].peel(pygit2.Tree))
    before: dict[str, pygit2.Oid] = {}
    after: dict[str, pygit2.Oid] = {}
    for delta in diff.deltas:
        if delta.status != pygit2.enums.DeltaStatus.ADDED:
            before[delta.old_file.path.replace("/", "")] = delta.old_file.id
        if delta.status != pygit2.enums.DeltaStatus.DELETED:
            after[delta.new_file.path.replace("/", "")] = delta.new_file.id
    for target, blob in sorted(before.items()):
        kept = after.get(target)
        if kept is None:
            return f"removes the note on {target[:12]}"
        if kept == blob:
            continue
        lines = {line for *_, line in parse_lines(repo.odb.read(kept)[1])}
        if any(line not in lines for *_, line in parse_lines(repo.odb.read(blob)[1])):
            return f"drops lines of the note on {target[:12]}"
    return None


def check(repo: pygit2.Repository, ref: str = NOTES_REF) -> None:
    """Raise ``MalformedRunError`` if the notes of ``ref`` are over the limits (:func:`expansion_problem`)."""
    found = repo.references.get(ref)
    if found is None or isinstance(found.target, str):
        return
    problem = expansion_problem(repo, found.target)
    if problem is not None:
        raise MalformedRunError(
            f"{ref} {problem}; gittrack does not read it: remove it with 'git update-ref -d {ref}' and pull again"
        )


def read(repo: pygit2.Repository, target: pygit2.Oid, ref: str = NOTES_REF) -> bytes:
    """The raw note on ``target`` (empty when there is none, or when it is over ``MAX_NOTE_BYTES``)."""
    try:
        note = repo.lookup_note(str(target), ref)
    except KeyError:
        return b""
    if repo.odb.read_header(note.id)[1] > MAX_NOTE_BYTES:
        return b""
    return repo.odb.read(note.id)[1]


def append(
    repo: pygit2.Repository, target: pygit2.Oid, events: list[tuple[int, str, str | None]], ref: str = NOTES_REF
) -> None:
    """Add events to the note on ``target`` (of ``ref``), each dated no earlier than just after the
    note's last current event, so it replays after everything readers see now."""
    from gittrack._store.repo import identity, signature

    current = read(repo, target, ref)
    _, _, last = state(current)
    floor = (last or 0) + 1
    events = [(max(t, floor), k, v) for t, k, v in events]
    added = "\n".join(format_event(t, k, v) for t, k, v in events)
    merged = merge(current, added.encode())
    name, email = identity(repo)
    when = max((t for t, _, _ in events), default=0)
    who = signature(name, email, when)
    repo.create_note(merged.decode(), who, who, str(target), ref, True)


def all_notes(repo: pygit2.Repository, ref: str = NOTES_REF) -> dict[str, bytes]:
    """Every note of ``ref``: annotated object id -> raw note; ``MalformedRunError`` when they are
    over the limits (:func:`check`), before any is read."""
    if repo.references.get(ref) is None:
        return {}
    check(repo, ref)
    listed = repo.notes(ref)  # type: ignore[call-arg]  # pygit2's stub leaves out notes()'s ref argument
    return {str(note.annotated_id): repo.odb.read(note.id)[1] for note in listed}


def named(repo: pygit2.Repository, kind: str, name: str) -> bool:
    """Whether the experiment or registered model ``name`` has a note (looked up, nothing written)."""
    return bool(read(repo, subject_id(kind, name)))


def names(repo: pygit2.Repository, kind: str) -> set[str]:
    """Every experiment or registered model (``kind``) that has a note."""
    found = set()
    for target in all_notes(repo):
        subject = subject_name(repo, target)
        if subject is not None and subject[0] == kind:
            found.add(subject[1])
    return found


def subject_name(repo: pygit2.Repository, target: str) -> tuple[str, str] | None:
    """``(kind, name)`` when ``target`` is a subject blob written by :func:`subject`, else None."""
    import pygit2

    try:
        obj = repo[pygit2.Oid(hex=target)]
    except (KeyError, ValueError):
        return None
    if not isinstance(obj, pygit2.Blob) or obj.size > 4096:
        return None
    parts = obj.data.decode("utf-8", "replace").split("\n")
    if len(parts) != 3 or parts[2] != "" or not parts[0].startswith("gittrack "):
        return None
    return parts[0][len("gittrack ") :], parts[1]


def take_in(repo: pygit2.Repository, incoming_tip: pygit2.Oid) -> int:
    """Merge the notes of a fetched notes commit into ``refs/notes/gittrack``: the local ref moves to
    ``incoming_tip`` and local notes that it lacks are re-applied on top (so the result is a
    descendant of the remote's and pushes as a fast-forward). Returns how many notes changed.
    ``MalformedRunError`` (nothing taken in) when the fetched notes are over the limits."""
    import pygit2

    problem = expansion_problem(repo, incoming_tip)
    if problem is not None:
        raise MalformedRunError(f"the fetched {NOTES_REF} {problem}; not taken in (the rest of the pull is)")
    local_ref = repo.references.get(NOTES_REF)
    if local_ref is not None and local_ref.target == incoming_tip:
        return 0
    if local_ref is not None and repo.descendant_of(local_ref.target, incoming_tip):
        return 0  # we are ahead: nothing new from them
    staging = "refs/gittrack/notes-merge"
    repo.references.create(staging, incoming_tip, force=True)
    try:
        theirs = all_notes(repo, staging)
        ours = all_notes(repo, NOTES_REF) if local_ref is not None else {}
        changed = 0
        for target, data in ours.items():
            merged = merge(theirs.get(target, b""), data)
            if merged != merge(theirs.get(target, b"")):
                who = pygit2.Signature("gittrack", "gittrack@localhost")
                repo.create_note(merged.decode(), who, who, target, staging, True)
                changed += 1
        new_tip = repo.references[staging].target
        repo.references.create(NOTES_REF, new_tip, force=True)
        changed += sum(1 for target, data in theirs.items() if merge(data) != merge(ours.get(target, b""), data))
        return changed
    finally:
        repo.references.delete(staging)
