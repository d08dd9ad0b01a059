"""Engine records → ``pps_v2`` messages (PipelineInfo, JobInfo, DatumInfo, LogMessage).

The PPS servicer's conversions, kept apart so that ``pps.py`` stays a thin list
of RPCs. Field choices follow pachd: details only on request for InspectPipeline
and jobs, datum states as ListDatum reports them. No behaviour here.
"""

from __future__ import annotations

from typing import Any, Iterable

from google.protobuf import duration_pb2

from ..._proto import pfs_pb2, pps_pb2
from ...pachyderm.datums import Datum
from ...pachyderm.spec import spec_to_json
from ..pipelines.queries import CommitTimes, input_commit_key, reported_state
from ..pipelines.states import TERMINAL, PipelineState
from ..storage.pipeline_records import DatumRecord, JobRecord, LogRecord, PipelineRecord
from ..storage import BranchKey, CommitKey, RepoKey
from ..storage.model import DEFAULT_PROJECT, META, SPEC
from . import _convert as cv

__all__ = [
    "pipeline_pb",
    "pipeline_info_pb",
    "job_info_pb",
    "datum_info_pb",
    "planned_datum_pb",
    "planned_inputs",
    "log_message_pb",
]

DATUM_SKIPPED, DATUM_FAILED, DATUM_RECOVERED = pps_pb2.SKIPPED, pps_pb2.FAILED, pps_pb2.RECOVERED


def pipeline_pb(project: str, name: str) -> pps_pb2.Pipeline:
    return pps_pb2.Pipeline(project=pfs_pb2.Project(name=project), name=name)


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


_PIPELINE_DETAIL_FIELDS = (
    "transform", "tf_job", "parallelism_spec", "egress", "resource_requests", "resource_limits",
    "sidecar_resource_limits", "input", "service", "spout", "datum_set_spec", "datum_timeout",
    "job_timeout", "scheduling_spec", "metadata", "sidecar_resource_requests", "determined",
    "maximum_expected_uptime",
)
_JOB_DETAIL_FIELDS = (
    "transform", "parallelism_spec", "egress", "service", "spout", "resource_requests", "resource_limits",
    "sidecar_resource_limits", "input", "datum_set_spec", "datum_timeout", "job_timeout", "scheduling_spec",
    "sidecar_resource_requests",
)


def _state(record: PipelineRecord) -> int:
    # An autoscaling pipeline with nothing to do is in STANDBY (its workers scaled to zero).
    idle = record.last_job_state in TERMINAL or record.last_job_state == 0
    if record.spec.autoscaling and record.state == PipelineState.RUNNING and idle:
        return pps_pb2.PIPELINE_STANDBY
    return record.state


def pipeline_info_pb(record: PipelineRecord, details: bool = True) -> pps_pb2.PipelineInfo:
    spec = record.spec
    info = pps_pb2.PipelineInfo(
        pipeline=pipeline_pb(record.project, record.name),
        version=record.version,
        stopped=record.stopped,
        state=pps_pb2.PipelineState.Name(_state(record)),
        reason=record.reason,
        last_job_state=pps_pb2.JobState.Name(record.last_job_state),
        parallelism=spec.parallelism_spec.constant or 1,
        type=pps_pb2.PipelineInfo.PIPELINE_TYPE_TRANSFORM,
        user_spec_json=record.user_spec or spec_to_json(spec),
        effective_spec_json=spec_to_json(spec),
    )
    if record.spec_commit:
        spec_repo = RepoKey(record.project, record.name, SPEC)
        info.spec_commit.CopyFrom(cv.commit_pb(CommitKey(spec_repo, record.spec_commit), BranchKey(spec_repo, "master")))
    if details:
        d = info.details
        for field in _PIPELINE_DETAIL_FIELDS:
            if spec.HasField(field):
                getattr(d, field).CopyFrom(getattr(spec, field))
        d.tolerations.extend(spec.tolerations)
        d.output_branch = spec.output_branch
        d.description = spec.description
        d.salt = spec.salt
        d.datum_tries = spec.datum_tries
        d.pod_spec = spec.pod_spec
        d.pod_patch = spec.pod_patch
        d.s3_out = spec.s3_out
        d.reprocess_spec = spec.reprocess_spec
        d.autoscaling = spec.autoscaling
        d.reason = record.reason
        d.recent_error = record.reason
        d.workers_requested = spec.parallelism_spec.constant or 1
        d.workers_available = d.workers_requested if record.state == PipelineState.RUNNING else 0
        for attr, value in (("created_at", record.created), ("updated_at", record.updated)):
            ts = cv.timestamp(value)
            if ts is not None:
                getattr(d, attr).CopyFrom(ts)
    return info


def job_info_pb(job: JobRecord, record: PipelineRecord | None, details: bool = False) -> pps_pb2.JobInfo:
    info = pps_pb2.JobInfo(
        job=pps_pb2.Job(pipeline=pipeline_pb(job.project, job.pipeline), id=job.id),
        pipeline_version=job.version,
        restart=job.restart,
        data_processed=job.processed,
        data_skipped=job.skipped,
        data_total=job.total,
        data_failed=job.failed,
        data_recovered=job.recovered,
        state=pps_pb2.JobState.Name(job.state),
        reason=job.reason,
    )
    branch = record.spec.output_branch if record is not None else "master"
    out = RepoKey(job.project, job.pipeline)
    info.output_commit.CopyFrom(cv.commit_pb(CommitKey(out, job.id), BranchKey(out, branch)))
    for attr, value in (("created", job.created), ("started", job.started), ("finished", job.finished)):
        ts = cv.timestamp(value)
        if ts is not None:
            getattr(info, attr).CopyFrom(ts)
    _stats(info.stats, job.stats or {})
    if job.state in _RAN or (job.state == pps_pb2.JOB_KILLED and job.total):
        # pachd's worker reports the times of a job once it has counted its datums (zero if none ran).
        for attr in ("download_time", "process_time", "upload_time"):
            getattr(info.stats, attr).SetInParent()
    if details and record is not None:
        spec = record.spec
        d = info.details
        for field in _JOB_DETAIL_FIELDS:
            if spec.HasField(field):
                getattr(d, field).CopyFrom(getattr(spec, field))
        _input_commits(d.input, job.id)
        d.salt = spec.salt
        d.datum_tries = spec.datum_tries
        d.pod_spec = spec.pod_spec
        d.pod_patch = spec.pod_patch
    return info


_RAN = frozenset({pps_pb2.JOB_SUCCESS, pps_pb2.JOB_FAILURE})


def _input_commits(node: pps_pb2.Input, job_id: str) -> None:
    """As pachd's job details: every PFS and cron input names the job's commit set (its id
    resolves in each input repo to the commit the job read)."""
    if node.HasField("pfs"):
        node.pfs.commit = job_id
    elif node.HasField("cron"):
        node.cron.commit = job_id
    for kind in ("cross", "union", "join", "group"):
        for child in getattr(node, kind):
            _input_commits(child, job_id)


def _stats(stats: pps_pb2.ProcessStats, values: dict[str, Any]) -> None:
    # Always present, as in pachd: pachctl reads jobInfo.Stats.DownloadBytes unguarded.
    stats.SetInParent()
    for attr in ("download_time", "process_time", "upload_time"):
        if attr in values:
            getattr(stats, attr).CopyFrom(_duration(float(values[attr])))
    for attr in ("download_bytes", "upload_bytes"):
        if attr in values:
            setattr(stats, attr, int(values[attr]))


def _file_info(item: dict[str, Any], times: CommitTimes | None = None) -> pfs_pb2.FileInfo:
    # As pachd's datum FileInfos: the commit by id only (no branch), files tagged with the default datum.
    repo = RepoKey(item.get("project", DEFAULT_PROJECT), item["repo"], item.get("repo_type", "user"))
    info = pfs_pb2.FileInfo(
        file=pfs_pb2.File(commit=cv.commit_pb(CommitKey(repo, item["commit"])), path=item["path"],
                          datum="" if item.get("is_dir") else item.get("datum") or "default"),
        file_type=pfs_pb2.DIR if item.get("is_dir") else pfs_pb2.FILE,
        size_bytes=int(item.get("size", 0)),
        hash=bytes.fromhex(item["hash"]),
    )
    committed = cv.timestamp((times or {}).get(input_commit_key(item)))
    if committed is not None:  # jupyterlab-pachyderm shows it as the files' modification time
        info.committed.CopyFrom(committed)
    return info


def datum_info_pb(
    datum: DatumRecord, times: CommitTimes | None = None, *, image: str = "", meta_branch: str | None = None
) -> pps_pb2.DatumInfo:
    """A job's datum as pachd reports it: a datum skipped here names the job that processed it;
    ``meta_branch`` (InspectDatum only) adds ``pfs_state``, its meta commit on that branch."""
    state = reported_state(datum)
    job_id = datum.processed_job if state == DATUM_SKIPPED and datum.processed_job else datum.job_id
    info = pps_pb2.DatumInfo(
        datum=pps_pb2.Datum(job=pps_pb2.Job(pipeline=pipeline_pb(datum.project, datum.pipeline), id=job_id),
                            id=datum.datum_id),
        state=pps_pb2.DatumState.Name(state),
        image_id=image,  # pachd: the user container's image id; here the image as named (none is pulled)
    )
    stats = dict(datum.stats or {})
    if state in (DATUM_FAILED, DATUM_RECOVERED):
        stats.pop("upload_time", None)  # nothing was uploaded
    _stats(info.stats, stats)
    info.data.extend(_file_info(item, times) for item in datum.inputs)
    if meta_branch is not None:
        meta = RepoKey(datum.project, datum.pipeline, META)
        info.pfs_state.commit.CopyFrom(cv.commit_pb(CommitKey(meta, job_id), BranchKey(meta, meta_branch)))
        info.pfs_state.path = f"/pfs/{datum.datum_id}"
    return info


def planned_inputs(datum: Datum) -> list[dict[str, Any]]:
    """A planned datum's inputs in the form of a stored record's."""
    return [{"project": i.project, "repo": i.repo, "repo_type": i.repo_type, "commit": i.commit, "branch": i.branch,
             "path": i.path, "is_dir": i.is_dir, "size": i.size, "hash": i.hash.hex(), "datum": i.datum}
            for i in datum.inputs]


def planned_datum_pb(datum: Datum, times: CommitTimes | None = None) -> pps_pb2.DatumInfo:
    """A datum of a dry run (ListDatum/CreateDatum with an input spec): no job, no state."""
    info = pps_pb2.DatumInfo(datum=pps_pb2.Datum(id=datum.id))
    info.stats.SetInParent()  # pachd sends an empty one
    for item in planned_inputs(datum):
        info.data.append(_file_info(item, times))
    return info


def _input_files(inputs: Iterable[dict[str, Any]]) -> list[pps_pb2.InputFile]:
    return [pps_pb2.InputFile(path=i["path"], hash=bytes.fromhex(i["hash"])) for i in inputs]


def log_message_pb(r: LogRecord, inputs: list[dict[str, Any]] | None) -> pps_pb2.LogMessage:
    msg = pps_pb2.LogMessage(
        project_name=r.project, pipeline_name=r.pipeline, job_id=r.job_id, datum_id=r.datum_id,
        worker_id=f"{r.project}-{r.pipeline}-local" if not r.master else "", user=r.user, master=r.master,
        message=r.message,
    )
    if inputs:
        msg.data.extend(_input_files(inputs))
    ts = cv.timestamp(r.ts)
    if ts is not None:
        msg.ts.CopyFrom(ts)
    return msg
