"""Building git trees in the object database without touching the index or the work tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

# path -> (oid, filemode) to add or replace, or None to remove
Changes = dict[str, "tuple[pygit2.Oid, int] | None"]


def apply_changes(repo: pygit2.Repository, base: pygit2.Oid | None, changes: Changes) -> pygit2.Oid:
    """Write the tree ``base`` with ``changes`` applied (folders created and pruned as needed)."""
    import pygit2

    nested: dict[str, Changes] = {}
    direct: Changes = {}
    for path, change in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            nested.setdefault(head, {})[rest] = change
        else:
            direct[head] = change
    builder = repo.TreeBuilder(repo[base].peel(pygit2.Tree)) if base is not None else repo.TreeBuilder()
    for name, change in direct.items():
        if change is None:
            if builder.get(name) is not None:
                builder.remove(name)
        else:
            builder.insert(name, change[0], change[1])
    for name, sub_changes in nested.items():
        entry = builder.get(name)
        sub_base = entry.id if entry is not None and entry.filemode == pygit2.GIT_FILEMODE_TREE else None
        if sub_base is None and all(c is None for c in sub_changes.values()):
            continue
        sub_tree = apply_changes(repo, sub_base, sub_changes)
        if len(repo[sub_tree].peel(pygit2.Tree)) == 0:
            if entry is not None:
                builder.remove(name)
        else:
            builder.insert(name, sub_tree, pygit2.GIT_FILEMODE_TREE)
    return builder.write()
