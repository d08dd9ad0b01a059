"""Conversion between refs/records and the generated protobuf messages.

Refs go to the wire with the client's default project filled in, and commits
always carry both ``Commit.repo`` and ``Commit.branch.repo`` (python-pachyderm
servers read the one, pachd the other). Records come back with an absent or
empty project read as ``default``, timestamps as UTC ``datetime`` (None when
unset) and enums as pachctl's words.

Nothing here performs I/O.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from pachmagic._proto import admin_pb2, pfs_pb2, pps_pb2, version_pb2
from pachmagic.client import records as rec
from pachmagic.client.refs import DEFAULT_PROJECT, Branch, Commit, File, Job, Pipeline, Repo

# --- refs -> protos ---------------------------------------------------------


def project_pb(name: str) -> pfs_pb2.Project:
    return pfs_pb2.Project(name=name)


def repo_pb(repo: Repo, project: str) -> pfs_pb2.Repo:
    return pfs_pb2.Repo(name=repo.name, type=repo.type, project=project_pb(repo.project or project))


def branch_pb(branch: Branch, project: str) -> pfs_pb2.Branch:
    return pfs_pb2.Branch(repo=repo_pb(branch.repo, project), name=branch.name)


def commit_pb(commit: Commit, project: str) -> pfs_pb2.Commit:
    repo = repo_pb(commit.repo, project)
    return pfs_pb2.Commit(
        repo=repo, id=commit.id or "", branch=pfs_pb2.Branch(repo=repo, name=commit.branch or "")
    )


def file_pb(file: File, project: str) -> pfs_pb2.File:
    return pfs_pb2.File(commit=commit_pb(file.commit, project), path=file.path)


def pipeline_pb(pipeline: Pipeline, project: str) -> pps_pb2.Pipeline:
    return pps_pb2.Pipeline(name=pipeline.name, project=project_pb(pipeline.project or project))


def job_pb(job: Job, project: str) -> pps_pb2.Job:
    return pps_pb2.Job(pipeline=pipeline_pb(job.pipeline, project), id=job.id)


# --- protos -> refs ---------------------------------------------------------


def _project_name(msg: Any) -> str:  # any message with a ``project`` field
    if msg.HasField("project") and msg.project.name:
        return str(msg.project.name)
    return DEFAULT_PROJECT


def repo_from_pb(pb: pfs_pb2.Repo) -> Repo:
    return Repo(pb.name, pb.type or "user", _project_name(pb))


def commit_from_pb(pb: pfs_pb2.Commit) -> Commit:
    repo_msg = pb.repo if pb.HasField("repo") and pb.repo.name else pb.branch.repo
    return Commit(repo_from_pb(repo_msg), pb.branch.name or None, pb.id or None)


# --- small values -------------------------------------------------------------


def ts(msg: Message, name: str) -> datetime | None:
    """A Timestamp field as an aware UTC datetime, or None when unset."""
    if not msg.HasField(name):
        return None
    value: datetime = getattr(msg, name).ToDatetime(tzinfo=timezone.utc)
    return value


def dur(msg: Message, name: str) -> timedelta | None:
    """A Duration field as a timedelta, or None when unset."""
    if not msg.HasField(name):
        return None
    value: timedelta = getattr(msg, name).ToTimedelta()
    return value


def _word(enum: Any, value: int, prefix: str = "", unknown: str = "unknown") -> str:
    try:
        name: str = enum.Name(value)
    except ValueError:
        return unknown
    if "UNKNOWN" in name:
        return unknown
    return name.removeprefix(prefix).lower()


def job_state_word(value: int) -> str:
    """``JOB_SUCCESS`` -> ``success`` (``created`` for JOB_CREATED)."""
    return _word(pps_pb2.JobState, value, "JOB_")


def pipeline_state_word(value: int) -> str:
    """``PIPELINE_RUNNING`` -> ``running``."""
    return _word(pps_pb2.PipelineState, value, "PIPELINE_")


def datum_state_word(value: int) -> str:
    """``SUCCESS`` -> ``success``."""
    return _word(pps_pb2.DatumState, value)


def shorthand_input(pb: pps_pb2.Input | None, project: str = DEFAULT_PROJECT) -> str:
    """pachctl's INPUT cell: ``photos:/``, ``(a:/* ⨯ b:/*)``, ``(Group: ...)``, ``tick:@every 1m``.

    An input from another project than the pipeline's is shown as ``project/repo:glob``.
    """
    if pb is None:
        return "none"
    if pb.HasField("pfs"):
        repo = pb.pfs.repo if pb.pfs.project in ("", project) else f"{pb.pfs.project}/{pb.pfs.repo}"
        return f"{repo}:{pb.pfs.glob}"
    for name, sep in (("cross", " ⨯ "), ("join", " ⋈ "), ("union", " ∪ ")):
        children = getattr(pb, name)
        if children:
            return "(" + sep.join(shorthand_input(c, project) for c in children) + ")"
    if pb.group:
        return "(Group: " + ", ".join(shorthand_input(c, project) for c in pb.group) + ")"
    if pb.HasField("cron"):
        return f"{pb.cron.name}:{pb.cron.spec}"
    return "none"


def _trigger(pb: pfs_pb2.Trigger) -> str:
    conditions = [
        f"{label}({value})"
        for label, value in (
            ("Cron", pb.cron_spec),
            ("RateLimit", pb.rate_limit_spec),
            ("Size", pb.size),
            ("Commits", pb.commits or ""),
        )
        if value
    ]
    joiner = " and " if pb.all else " or "
    return pb.branch + (" on " + joiner.join(conditions) if conditions else "")


# --- protos -> records ------------------------------------------------------


def version(pb: version_pb2.Version) -> rec.Version:
    return rec.Version(
        major=pb.major, minor=pb.minor, micro=pb.micro, additional=pb.additional,
        git_commit=pb.git_commit, git_tree_modified=pb.git_tree_modified,
        build_date=pb.build_date, go_version=pb.go_version, platform=pb.platform,
    )


def cluster_info(pb: admin_pb2.ClusterInfo) -> rec.ClusterInfo:
    return rec.ClusterInfo(
        id=pb.id, deployment_id=pb.deployment_id, warnings_ok=pb.warnings_ok,
        warnings=tuple(pb.warnings), proxy_host=pb.proxy_host, proxy_tls=pb.proxy_tls,
        paused=pb.paused, metadata=dict(pb.metadata),
    )


def project_info(pb: pfs_pb2.ProjectInfo) -> rec.ProjectInfo:
    return rec.ProjectInfo(
        name=pb.project.name or DEFAULT_PROJECT, description=pb.description, created=ts(pb, "created_at")
    )


def repo_info(pb: pfs_pb2.RepoInfo) -> rec.RepoInfo:
    size = pb.details.size_bytes if pb.HasField("details") else pb.size_bytes_upper_bound
    return rec.RepoInfo(
        project=_project_name(pb.repo), name=pb.repo.name, type=pb.repo.type or "user",
        created=ts(pb, "created"), size_bytes=size, description=pb.description,
        branches=tuple(b.name for b in pb.branches),
    )


def _branch_uri(pb: pfs_pb2.Branch) -> str:
    return str(Branch(repo_from_pb(pb.repo), pb.name))


def branch_info(pb: pfs_pb2.BranchInfo) -> rec.BranchInfo:
    repo = repo_from_pb(pb.branch.repo)
    return rec.BranchInfo(
        project=repo.project or DEFAULT_PROJECT, repo=repo.name, repo_type=repo.type,
        name=pb.branch.name, head=(pb.head.id or None) if pb.HasField("head") else None,
        direct_provenance=tuple(_branch_uri(b) for b in pb.direct_provenance),
        provenance=tuple(_branch_uri(b) for b in pb.provenance),
        subvenance=tuple(_branch_uri(b) for b in pb.subvenance),
        trigger=_trigger(pb.trigger) if pb.HasField("trigger") else None,
        created=ts(pb, "created_at"),
    )


def commit_info(pb: pfs_pb2.CommitInfo) -> rec.CommitInfo:
    commit = commit_from_pb(pb.commit)
    size = pb.details.size_bytes if pb.HasField("details") else pb.size_bytes_upper_bound
    origin = pfs_pb2.OriginKind.Name(pb.origin.kind) if pb.origin.kind in pfs_pb2.OriginKind.values() else "UNKNOWN"
    return rec.CommitInfo(
        project=commit.repo.project or DEFAULT_PROJECT, repo=commit.repo.name,
        repo_type=commit.repo.type, id=commit.id or "", branch=commit.branch,
        parent=(pb.parent_commit.id or None) if pb.HasField("parent_commit") else None,
        children=tuple(c.id for c in pb.child_commits),
        origin="UNKNOWN" if origin == "ORIGIN_KIND_UNKNOWN" else origin,
        description=pb.description, started=ts(pb, "started"), finishing=ts(pb, "finishing"),
        finished=ts(pb, "finished"), size_bytes=size, error=pb.error,
        direct_provenance=tuple(str(commit_from_pb(c)) for c in pb.direct_provenance),
    )


_FILE_TYPES = {pfs_pb2.FILE: "file", pfs_pb2.DIR: "dir"}


def file_info(pb: pfs_pb2.FileInfo) -> rec.FileInfo:
    commit = commit_from_pb(pb.file.commit) if pb.file.commit.ByteSize() else None
    repo = commit.repo if commit is not None else Repo("unknown")
    return rec.FileInfo(
        project=repo.project or DEFAULT_PROJECT, repo=repo.name, repo_type=repo.type,
        commit_id=commit.id if commit else None, branch=commit.branch if commit else None,
        path=pb.file.path, type=_FILE_TYPES.get(pb.file_type, "unknown"),
        size_bytes=pb.size_bytes, hash=pb.hash.hex(), committed=ts(pb, "committed"),
    )


def file_diff(pb: pfs_pb2.DiffFileResponse) -> rec.FileDiff:
    return rec.FileDiff(
        new=file_info(pb.new_file) if pb.HasField("new_file") else None,
        old=file_info(pb.old_file) if pb.HasField("old_file") else None,
    )


def _spec(pb: pps_pb2.PipelineInfo) -> dict[str, Any]:
    for text in (pb.user_spec_json, pb.effective_spec_json):
        if text:
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    if not pb.HasField("details"):
        return {}
    spec: dict[str, Any] = {"pipeline": json_format.MessageToDict(pb.pipeline, preserving_proto_field_name=True)}
    spec.update(json_format.MessageToDict(pb.details, preserving_proto_field_name=True))
    return spec


def pipeline_info(pb: pps_pb2.PipelineInfo) -> rec.PipelineInfo:
    project = _project_name(pb.pipeline)
    details = pb.details if pb.HasField("details") else None
    pipeline_type = _word(pps_pb2.PipelineInfo.PipelineType, pb.type, "PIPELINE_TYPE_")
    return rec.PipelineInfo(
        project=project, name=pb.pipeline.name, version=pb.version,
        state=pipeline_state_word(pb.state), stopped=pb.stopped, reason=pb.reason,
        last_job_state=job_state_word(pb.last_job_state), type=pipeline_type,
        input=shorthand_input(details.input if details and details.HasField("input") else None, project)
        if details
        else "",
        created=ts(details, "created_at") if details else None,
        description=details.description if details else "",
        parallelism=pb.parallelism, output_branch=details.output_branch if details else "",
        spec=_spec(pb), salt=details.salt if details else "",
    )


def job_info(pb: pps_pb2.JobInfo) -> rec.JobInfo:
    stats = pb.stats
    return rec.JobInfo(
        project=_project_name(pb.job.pipeline), pipeline=pb.job.pipeline.name, id=pb.job.id,
        pipeline_version=pb.pipeline_version, state=job_state_word(pb.state), reason=pb.reason,
        created=ts(pb, "created"), started=ts(pb, "started"), finished=ts(pb, "finished"),
        restart=pb.restart, data_processed=pb.data_processed, data_skipped=pb.data_skipped,
        data_failed=pb.data_failed, data_recovered=pb.data_recovered, data_total=pb.data_total,
        download_bytes=stats.download_bytes, upload_bytes=stats.upload_bytes,
        download_time=dur(stats, "download_time"), process_time=dur(stats, "process_time"),
        upload_time=dur(stats, "upload_time"),
        salt=pb.details.salt if pb.HasField("details") else "",
        output_commit=commit_from_pb(pb.output_commit)
        if pb.HasField("output_commit") and (pb.output_commit.id or pb.output_commit.branch.name)
        else None,
    )


def datum_info(pb: pps_pb2.DatumInfo) -> rec.DatumInfo:
    job = pb.datum.job
    stats = pb.stats
    data = [d for d in pb.data if d.file.commit.id or d.file.commit.branch.name]
    files = tuple(File(commit_from_pb(d.file.commit), d.file.path) for d in data)
    return rec.DatumInfo(
        project=_project_name(job.pipeline), pipeline=job.pipeline.name, job_id=job.id,
        id=pb.datum.id, state=datum_state_word(pb.state), files=files, hashes=tuple(d.hash.hex() for d in data),
        download_bytes=stats.download_bytes, upload_bytes=stats.upload_bytes,
        download_time=dur(stats, "download_time"), process_time=dur(stats, "process_time"),
        upload_time=dur(stats, "upload_time"), image_id=pb.image_id,
    )


def log_message(pb: pps_pb2.LogMessage) -> rec.LogMessage:
    return rec.LogMessage(
        project=pb.project_name, pipeline=pb.pipeline_name, job_id=pb.job_id,
        worker_id=pb.worker_id, datum_id=pb.datum_id, master=pb.master, user=pb.user,
        ts=ts(pb, "ts"), message=pb.message, data=tuple(d.path for d in pb.data),
    )
