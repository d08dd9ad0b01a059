"""Pipeline specs on the server: pachd's validation and defaults, and the branches a pipeline reads.

Specs arrive as ``CreatePipelineRequest`` messages (``CreatePipeline``) or as
JSON/YAML text (``CreatePipelineV2``), parsed by the codec both sides share
(``pachmagic.pachyderm.spec``). Kubernetes-only fields (``resource_requests``,
``pod_patch``, ``scheduling_spec``, ...) are accepted, stored and shown back, and
have no effect here. Validation fills in pachd's defaults and uses pachd's
messages where there is one. No gRPC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...errors import InvalidArgument, PachError
from ...pachyderm.globcheck import check_glob
from ...pachyderm.inputs import Input, cron_inputs, pfs_inputs, sorted_input
from ...pachyderm.paths import OUTPUT_NAME, clean_path
from ...pachyderm.spec import Spec
from ..storage.model import DEFAULT_PROJECT, USER, validate_name
from .cron import parse_schedule

__all__ = [
    "validate_and_default",
    "default_input",
    "input_branches",
    "InputBranch",
    "PIPELINE_NAME_MAX",
]

PIPELINE_NAME_MAX = 51
DEFAULT_DATUM_TRIES = 3


@dataclass(frozen=True)
class InputBranch:
    """A branch a pipeline reads: the output branch's provenance."""

    project: str
    repo: str
    branch: str
    repo_type: str = USER


def input_branches(node: Input) -> list[InputBranch]:
    """The distinct branches of the PFS and cron inputs, in input order."""
    out: dict[InputBranch, None] = {}
    for pfs in pfs_inputs(node):
        out[InputBranch(pfs.project, pfs.repo, pfs.branch, pfs.repo_type or USER)] = None
    for cron in cron_inputs(node):
        out[InputBranch(cron.project, cron.repo, "master")] = None
    return list(out)


def default_input(node: Input, project: str, pipeline: str) -> None:
    """Validate an input tree and fill in pachd's defaults, in place.

    As pachd's ``setInputDefaults``: the children are sorted by the names the spec
    gives first, then the names are defaulted (so unnamed inputs keep the spec's order).
    """
    node.CopyFrom(sorted_input(node))
    _check_input(node, set(), project, pipeline, parent="")


def _check_input(node: Input, names: set[str], project: str, pipeline: str, parent: str) -> None:
    kinds = [k for k in ("pfs", "cron") if node.HasField(k)]
    kinds += [k for k in ("cross", "union", "join", "group") if len(getattr(node, k))]
    if not kinds:
        raise InvalidArgument("no input set")
    if len(kinds) > 1:
        raise InvalidArgument(f"multiple input types set ({', '.join(kinds)})")
    kind = kinds[0]
    if parent in ("join", "group") and kind != "pfs":
        raise InvalidArgument(f"{parent} inputs may only contain pfs inputs, found a {kind} input")
    if kind == "pfs":
        pfs = node.pfs
        if not pfs.repo:
            raise InvalidArgument("input must specify a repo")
        if pfs.commit:
            raise InvalidArgument("input cannot come from a commit; use a branch with head pointing to the commit")
        if not pfs.glob and not pfs.s3:
            raise InvalidArgument("input must specify a glob")
        pfs.project = pfs.project or project
        pfs.name = pfs.name or pfs.repo
        pfs.branch = pfs.branch or "master"
        pfs.repo_type = pfs.repo_type or USER
        if pfs.outer_join and parent != "join":
            raise InvalidArgument(f"input {pfs.name}: outer_join is only meaningful inside a join input")
        if pfs.join_on and parent != "join":
            raise InvalidArgument(f"input {pfs.name}: join_on is only meaningful inside a join input")
        if pfs.group_by and parent != "group":
            raise InvalidArgument(f"input {pfs.name}: group_by is only meaningful inside a group input")
        _add_name(pfs.name, names)
        return
    if kind == "cron":
        cron = node.cron
        if not cron.name:
            raise InvalidArgument("input must specify a name")
        parse_schedule(cron.spec)
        cron.project = cron.project or project
        cron.repo = cron.repo or f"{pipeline}_{cron.name}"
        validate_name(cron.repo)
        if not cron.HasField("start"):
            cron.start.FromNanoseconds(int(time.time() * 1e9))
        _add_name(cron.name, names)
        return
    children = getattr(node, kind)
    for child in children:
        # A union's datums come from one child at a time, so names may repeat
        # across its children; every other combination puts them side by side.
        _check_input(child, set(names) if kind == "union" else names, project, pipeline, kind)


def check_input_globs(node: Input) -> None:
    """Refuse a pfs input whose glob pachd cannot compile, when the pipeline is created.

    pachd accepts such a spec and then fails every job; a spec is where the mistake
    is made, so it is refused there, with pachd's words for the glob.
    """
    for child in (*node.cross, *node.union, *node.join, *node.group):
        check_input_globs(child)
    if node.HasField("pfs") and node.pfs.glob:
        try:
            check_glob(clean_path(node.pfs.glob))
        except PachError as err:
            raise InvalidArgument(f"input {node.pfs.name or node.pfs.repo}: invalid glob {node.pfs.glob!r}: {err.details}") from None


def _add_name(name: str, names: set[str]) -> None:
    if name == OUTPUT_NAME:
        raise InvalidArgument('input cannot be named "out": /pfs/out is the output directory; set a different name')
    validate_name(name)
    if name in names:
        raise InvalidArgument(f'name "{name}" was used more than once')
    names.add(name)


def validate_and_default(request: Spec) -> Spec:
    """Check a spec and fill in pachd's defaults; return a normalised copy."""
    spec = Spec()
    spec.CopyFrom(request)
    name = spec.pipeline.name
    if not name:
        raise InvalidArgument("invalid pipeline spec: the pipeline needs a name (pipeline.name)")
    try:
        validate_name(name)
    except InvalidArgument as err:
        raise InvalidArgument(f"invalid pipeline name: {err.details}") from None
    if not name[0].isalnum():
        raise InvalidArgument(f"invalid pipeline name: {name!r} must start with a letter or digit")
    if len(name) > PIPELINE_NAME_MAX:
        raise InvalidArgument(
            f"pipeline name {name!r} is {len(name) - PIPELINE_NAME_MAX} characters longer than the {PIPELINE_NAME_MAX} max"
        )
    project = spec.pipeline.project.name = spec.pipeline.project.name or DEFAULT_PROJECT
    if spec.HasField("spout") or spec.HasField("service"):
        raise InvalidArgument("spout and service pipelines are not supported by the pachmagic embedded server")
    if not spec.HasField("transform") or not spec.transform.image:
        raise InvalidArgument("pipeline transform must contain an image")
    if not spec.transform.cmd:
        raise InvalidArgument("invalid pipeline transform, no command specified")
    if spec.transform.datum_batching:
        # Batching code loops on `pachctl next datum`, which has nothing to talk to here.
        raise InvalidArgument("datum_batching is not supported by the pachmagic embedded server")
    if not spec.HasField("input"):
        raise InvalidArgument("no input set")
    default_input(spec.input, project, name)
    check_input_globs(spec.input)
    for pfs in pfs_inputs(spec.input):
        if pfs.project == project and pfs.repo == name and pfs.repo_type == USER:
            raise InvalidArgument(f"pipeline {name} cannot take its own output repo as input")
    if spec.reprocess_spec not in ("", "until_success", "every_job"):
        raise InvalidArgument('ReprocessSpec must be one of "until_success" or "every_job"')
    spec.reprocess_spec = spec.reprocess_spec or "until_success"
    spec.output_branch = spec.output_branch or "master"
    validate_name(spec.output_branch)
    if spec.datum_tries <= 0:
        spec.datum_tries = DEFAULT_DATUM_TRIES
    if spec.parallelism_spec.constant == 0:
        spec.parallelism_spec.constant = 1
    for field in ("datum_timeout", "job_timeout"):
        if spec.HasField(field) and getattr(spec, field).ToNanoseconds() <= 0:
            raise InvalidArgument(f"{field} must be positive")
    # Request flags are not part of the stored spec.
    spec.update = False
    spec.reprocess = False
    spec.dry_run = False
    return spec
