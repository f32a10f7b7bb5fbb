"""The permissions file: who may READ, EDIT or MANAGE each experiment, registered model and the
code, as MLflow's permission model has it; read once, then asked per user and per ref.

```yaml
groups:                       # a name on the left is a group; anything else is a user
  churn-team: [alice, bob]
  ci: [ci-bot]
default: READ                 # everyone, on everything not given below (NONE, READ, EDIT, MANAGE)
code: {churn-team: EDIT, ci: MANAGE}
experiments:
  churn: {churn-team: EDIT}
  secret: {ci: EDIT, default: NONE}   # 'default' inside an entry: for everyone it does not name
models:
  churn: {churn-team: EDIT, ci: MANAGE}
guarded_stages: [production]  # stage tags only MANAGE may create (registry.yaml's guard)
default_branch: main
```

What each level allows (the same for gitolite's rules, ``server-rules``, and the server hook):
experiments: READ fetches the runs, EDIT also pushes runs and run indexes (gittrack's hook still
refuses rewriting or deleting finished runs), MANAGE is EDIT (kept for MLflow's names). Models:
READ reads, EDIT creates registry tags but guarded stages', MANAGE also guarded stage tags. Code:
EDIT pushes branches other than the default one, MANAGE also the default branch (fast-forward only),
where registry.yaml and merged promotion requests live. The metadata notes may be pushed by
anyone with EDIT on something.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gittrack.errors import GittrackError, UsageError

LEVELS = ("NONE", "READ", "EDIT", "MANAGE")
NONE, READ, EDIT, MANAGE = range(4)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")  # gitolite's user names (no '/' or spaces)
NOTES_REF = "refs/notes/gittrack"


@dataclass
class Permissions:
    """A parsed permissions file."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    default: int = READ
    code: dict[str, int] = field(default_factory=dict)
    experiments: dict[str, dict[str, int]] = field(default_factory=dict)
    models: dict[str, dict[str, int]] = field(default_factory=dict)
    guarded_stages: list[str] = field(default_factory=lambda: ["production"])
    default_branch: str = "main"

    def users(self) -> list[str]:
        """Every user named in the file (groups' members and users named directly)."""
        named = {u for members in self.groups.values() for u in members}
        for entry in [self.code, *self.experiments.values(), *self.models.values()]:
            named.update(who for who in entry if who not in self.groups and who != "default")
        return sorted(named)

    def _level(self, user: str, entry: dict[str, int] | None) -> int:
        if not entry:
            return self.default
        mine = [level for who, level in entry.items() if who == user or user in self.groups.get(who, ())]
        if mine:
            return max(mine)
        return entry.get("default", self.default)

    def experiment(self, user: str, name: str) -> int:
        """The user's level on an experiment."""
        return self._level(user, self.experiments.get(name))

    def model(self, user: str, name: str) -> int:
        """The user's level on a registered model."""
        return self._level(user, self.models.get(name))

    def on_code(self, user: str) -> int:
        """The user's level on the code (branches)."""
        return self._level(user, self.code)

    def highest(self, user: str) -> int:
        """The user's highest level on anything."""
        entries = [self.code, *self.experiments.values(), *self.models.values()]
        return max([self.default, *(self._level(user, e) for e in entries)])


def _level_of(value: object, where: str) -> int:
    if not isinstance(value, str) or value.upper() not in LEVELS:
        raise UsageError(f"{where}: {value!r} is not a permission; use one of {', '.join(LEVELS)}")
    return LEVELS.index(value.upper())


def _entry(value: object, where: str, groups: dict[str, list[str]]) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must map users or groups to a permission, e.g. {{team: EDIT}}")
    out = {}
    for who, level in value.items():
        if not isinstance(who, str) or not _NAME.match(who):
            raise UsageError(f"{where}: {who!r} is not a user or group name")
        out[who] = _level_of(level, f"{where}.{who}")
    return out


def parse(text: str, where: str = "the permissions file") -> Permissions:
    """Read a permissions file's text (YAML); a UsageError names what is wrong."""
    from gittrack._registry.tags import validate_model
    from gittrack._store import naming
    from gittrack._store.yamlio import load_yaml

    try:
        data = load_yaml(text.encode(), where) or {}
    except GittrackError as exc:  # not YAML, or unsafe YAML: the file's author must fix it
        raise UsageError(str(exc)) from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a mapping (groups, default, code, experiments, models)")
    unknown = sorted(set(data) - {"groups", "default", "code", "experiments", "models", "guarded_stages",
                                  "default_branch"})  # fmt: skip
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    groups = data.get("groups") or {}
    if not isinstance(groups, dict) or not all(
        isinstance(g, str) and _NAME.match(g) and isinstance(m, list) and all(isinstance(u, str) and _NAME.match(u)
                                                                               for u in m)
        for g, m in groups.items()
    ):  # fmt: skip
        raise UsageError(f"{where}: groups must map group names to lists of user names")
    clash = sorted(set(groups) & {u for m in groups.values() for u in m})
    if clash:
        raise UsageError(f"{where}: {', '.join(clash)} is both a group and a user")
    perms = Permissions(groups={g: list(m) for g, m in groups.items()})
    perms.default = _level_of(data.get("default", "READ"), f"{where}: default")
    perms.code = _entry(data.get("code"), f"{where}: code", groups)
    for section in ("experiments", "models"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise UsageError(f"{where}: {section} must map names to {{user or group: permission}}")
        for name, value in entries.items():
            if section == "experiments":
                naming.validate_experiment(str(name))
            else:
                validate_model(str(name))
            getattr(perms, section)[str(name)] = _entry(value, f"{where}: {section}.{name}", groups)
    stages = data.get("guarded_stages", ["production"])
    if not isinstance(stages, list) or not all(isinstance(s, str) and _NAME.match(s) for s in stages):
        raise UsageError(f"{where}: guarded_stages must be a list of stage names")
    perms.guarded_stages = stages
    branch = data.get("default_branch", "main")
    if not isinstance(branch, str) or not branch:
        raise UsageError(f"{where}: default_branch must be a branch name")
    perms.default_branch = branch
    return perms


def load(path: str | os.PathLike[str]) -> Permissions:
    """Read the permissions file at ``path``."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read the permissions file {path}: {exc.strerror}") from None
    return parse(text, str(path))


def ref_problem(perms: Permissions, user: str, ref: str) -> str | None:
    """Why ``user`` may not update ``ref`` (create, move or delete it), or None. gittrack's own
    checks (finished runs never change, tags never move...) are the server hook's, not these."""
    from gittrack._registry.tags import parse_tag
    from gittrack._store import naming, packs

    for namespace in (naming.RUNS_NAMESPACE, packs.INDEX_NAMESPACE):
        if ref.startswith(namespace):
            component = ref[len(namespace) :].partition("/")[0]  # as encoded in ref names
            named = {naming.encode_component(name): name for name in perms.experiments}
            experiment = named.get(component, component)
            if perms.experiment(user, experiment) < EDIT:
                return f"{user} may not write to experiment {experiment!r} (needs EDIT)"
            return None
    if ref.startswith("refs/tags/"):
        name = ref[len("refs/tags/") :]
        parsed = parse_tag(name)
        if parsed is None and ("@" in name or "#" in name):  # no registry tag, yet like one: the default
            return None if perms.default >= EDIT else f"{user} may not push tag {name!r} (needs EDIT)"
        if parsed is None:
            return None if perms.on_code(user) >= EDIT else f"{user} may not push tags (needs EDIT on the code)"
        level = perms.model(user, parsed.model)
        if parsed.stage in perms.guarded_stages and level < MANAGE:
            return f"{user} may not change stage {parsed.stage!r} of model {parsed.model!r} (needs MANAGE)"
        if level < EDIT:
            return f"{user} may not write to model {parsed.model!r} (needs EDIT)"
        return None
    if ref == NOTES_REF:
        return None if perms.highest(user) >= EDIT else f"{user} may not write the metadata notes (needs EDIT)"
    if ref.startswith("refs/heads/"):
        needed = MANAGE if ref == f"refs/heads/{perms.default_branch}" else EDIT
        if perms.on_code(user) < needed:
            return f"{user} may not push {ref} (needs {LEVELS[needed]} on the code)"
        return None
    return f"{user} may not push {ref} (only branches, runs, run indexes, registry tags and notes)"


def hidden_refs(perms: Permissions, user: str) -> list[str]:
    """The ref hierarchies ``user`` may not read (git's ``transfer.hideRefs``): the runs and run
    index of every experiment named in the file that the user has no READ on."""
    from gittrack._store import naming, packs

    everything = [naming.RUNS_NAMESPACE.rstrip("/"), packs.INDEX_NAMESPACE.rstrip("/")]
    hidden = everything if perms.default < READ else []  # then only the experiments named may be visible
    for name in sorted(perms.experiments):
        mine = [naming.experiment_prefix(name).rstrip("/"), packs.index_ref(name)]
        if perms.experiment(user, name) < READ:
            hidden += mine
        elif perms.default < READ:
            hidden += [f"!{ref}" for ref in mine]  # later entries override earlier ones
    return hidden
