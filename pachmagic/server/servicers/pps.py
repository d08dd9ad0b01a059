"""``pps_v2.API``: thin gRPC adapters over the pipeline ``Engine``.

Conversions from engine records to ``PipelineInfo``/``JobInfo``/``DatumInfo``
live here; pipeline behaviour lives in ``server/pipelines``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from google.protobuf import duration_pb2, empty_pb2, json_format

from ..._proto import pfs_pb2, pps_pb2, pps_pb2_grpc
from ...errors import InvalidArgument, NotFound
from ..pipelines import Engine
from ..pipelines.spec import parse_json_spec, spec_to_json
from ..pipelines.store import TERMINAL, DatumRecord, JobRecord, PipelineRecord
from ..storage import BranchKey, CommitKey, CommitRef, RepoKey, Storage
from ..storage.model import DEFAULT_PROJECT, META, SPEC
from . import _convert as cv
from ._base import Runtime, rpc

__all__ = ["PpsServicer", "pipeline_info_pb", "job_info_pb", "datum_info_pb"]


def _project(pipeline: pps_pb2.Pipeline) -> str:
    return pipeline.project.name or DEFAULT_PROJECT


def _name(pipeline: pps_pb2.Pipeline) -> str:
    if not pipeline.name:
        raise InvalidArgument("no pipeline specified")
    return pipeline.name


def _pipeline_pb(project: str, name: str) -> pps_pb2.Pipeline:
    return pps_pb2.Pipeline(project=pfs_pb2.Project(name=project), name=name)


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def pipeline_info_pb(record: PipelineRecord, details: bool = True) -> pps_pb2.PipelineInfo:
    spec = record.spec
    info = pps_pb2.PipelineInfo(
        pipeline=_pipeline_pb(record.project, record.name),
        version=record.version,
        stopped=record.stopped,
        state=record.state,
        reason=record.reason,
        last_job_state=record.last_job_state,
        parallelism=spec.parallelism_spec.constant or 1,
        type=pps_pb2.PipelineInfo.PIPELINE_TYPE_TRANSFORM,
        user_spec_json=record.user_spec or spec_to_json(spec),
        effective_spec_json=spec_to_json(spec),
    )
    if record.spec_commit:
        info.spec_commit.CopyFrom(
            cv.commit_pb(
                CommitKey(RepoKey(record.project, record.name, SPEC), record.spec_commit),
                BranchKey(RepoKey(record.project, record.name, SPEC), "master"),
            )
        )
    if details:
        d = info.details
        for field in (
            "transform", "tf_job", "parallelism_spec", "egress", "resource_requests", "resource_limits",
            "sidecar_resource_limits", "input", "service", "spout", "datum_set_spec", "datum_timeout",
            "job_timeout", "scheduling_spec", "metadata", "sidecar_resource_requests", "determined",
            "maximum_expected_uptime",
        ):
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
        d.workers_requested = spec.parallelism_spec.constant or 1
        d.workers_available = d.workers_requested
        created = cv.timestamp(record.created)
        updated = cv.timestamp(record.updated)
        if created is not None:
            d.created_at.CopyFrom(created)
        if updated is not None:
            d.updated_at.CopyFrom(updated)
    return info


def job_info_pb(job: JobRecord, record: PipelineRecord | None, details: bool = False) -> pps_pb2.JobInfo:
    info = pps_pb2.JobInfo(
        job=pps_pb2.Job(pipeline=_pipeline_pb(job.project, job.pipeline), id=job.id),
        pipeline_version=job.version,
        restart=job.restart,
        data_processed=job.processed,
        data_skipped=job.skipped,
        data_total=job.total,
        data_failed=job.failed,
        data_recovered=job.recovered,
        state=job.state,
        reason=job.reason,
    )
    branch = record.spec.output_branch if record is not None else "master"
    out = RepoKey(job.project, job.pipeline)
    info.output_commit.CopyFrom(cv.commit_pb(CommitKey(out, job.id), BranchKey(out, branch)))
    for attr, value in (("created", job.created), ("started", job.started), ("finished", job.finished)):
        ts = cv.timestamp(value)
        if ts is not None:
            getattr(info, attr).CopyFrom(ts)
    stats = job.stats or {}
    if stats:
        info.stats.download_bytes = int(stats.get("download_bytes", 0))
        info.stats.upload_bytes = int(stats.get("upload_bytes", 0))
    if details and record is not None:
        spec = record.spec
        d = info.details
        for field in ("transform", "parallelism_spec", "egress", "input", "datum_timeout", "job_timeout", "resource_requests", "resource_limits"):
            if spec.HasField(field):
                getattr(d, field).CopyFrom(getattr(spec, field))
        d.salt = spec.salt
        d.datum_tries = spec.datum_tries
    return info


def datum_info_pb(datum: DatumRecord) -> pps_pb2.DatumInfo:
    info = pps_pb2.DatumInfo(
        datum=pps_pb2.Datum(
            job=pps_pb2.Job(pipeline=_pipeline_pb(datum.project, datum.pipeline), id=datum.job_id), id=datum.datum_id
        ),
        state=datum.state,
    )
    stats = datum.stats or {}
    for attr in ("download_time", "process_time", "upload_time"):
        if attr in stats:
            getattr(info.stats, attr).CopyFrom(_duration(float(stats[attr])))
    for attr in ("download_bytes", "upload_bytes"):
        if attr in stats:
            setattr(info.stats, attr, int(stats[attr]))
    for item in datum.inputs:
        repo = RepoKey(item.get("project", DEFAULT_PROJECT), item["repo"])
        info.data.append(
            pfs_pb2.FileInfo(
                file=pfs_pb2.File(
                    commit=cv.commit_pb(CommitKey(repo, item["commit"]), BranchKey(repo, item["branch"])),
                    path=item["path"] if not item.get("is_dir") or item["path"] == "/" else item["path"] + "/",
                ),
                file_type=pfs_pb2.DIR if item.get("is_dir") else pfs_pb2.FILE,
                hash=bytes.fromhex(item["hash"]),
            )
        )
    meta = RepoKey(datum.project, datum.pipeline, META)
    info.pfs_state.commit.CopyFrom(cv.commit_pb(CommitKey(meta, datum.job_id)))
    info.pfs_state.path = f"/pfs/{datum.datum_id}"
    return info


class PpsServicer(pps_pb2_grpc.APIServicer):
    """The PPS API of the embedded server."""

    def __init__(self, engine: Engine, storage: Storage, runtime: Runtime) -> None:
        self.engine = engine
        self.storage = storage
        self.rt = runtime

    # --- pipelines ---------------------------------------------------------------

    @rpc
    async def CreatePipeline(self, request: pps_pb2.CreatePipelineRequest, context: Any) -> empty_pb2.Empty:
        user_json = json_format.MessageToJson(request, preserving_proto_field_name=True)
        await self.rt.blocking(
            lambda: self.engine.create_pipeline(
                request, update=request.update, reprocess=request.reprocess, user_json=user_json, dry_run=request.dry_run
            )
        )
        return empty_pb2.Empty()

    @rpc
    async def CreatePipelineV2(self, request: pps_pb2.CreatePipelineV2Request, context: Any) -> pps_pb2.CreatePipelineV2Response:
        spec = parse_json_spec(request.create_pipeline_request_json)
        update = request.update or spec.update
        reprocess = request.reprocess or spec.reprocess
        record = await self.rt.blocking(
            lambda: self.engine.create_pipeline(
                spec, update=update, reprocess=reprocess, user_json=request.create_pipeline_request_json,
                dry_run=request.dry_run or spec.dry_run,
            )
        )
        return pps_pb2.CreatePipelineV2Response(effective_create_pipeline_request_json=spec_to_json(record.spec))

    @rpc
    async def InspectPipeline(self, request: pps_pb2.InspectPipelineRequest, context: Any) -> pps_pb2.PipelineInfo:
        project, name = _project(request.pipeline), _name(request.pipeline)
        base, back = name, 0
        if "^" in name:
            base, carets = name.split("^", 1)
            back = int(carets) if carets.isdigit() else carets.count("^") + 1
        def fetch() -> PipelineRecord:
            if back:
                history = self.engine.pipeline_history(project, base)
                if back >= len(history):
                    raise InvalidArgument(f"pipeline {project}/{base} has only {len(history)} versions")
                return history[back]
            return self.engine.inspect_pipeline(project, base)

        record = await self.rt.blocking(fetch)
        # As pachd: details=false leaves PipelineInfo.details unset ("preserve old
        # behavior"), so code that reads them without asking fails here as on a cluster.
        return pipeline_info_pb(record, details=request.details)

    @rpc
    async def ListPipeline(self, request: pps_pb2.ListPipelineRequest, context: Any) -> AsyncIterator[pps_pb2.PipelineInfo]:
        projects = [p.name or DEFAULT_PROJECT for p in request.projects]

        def fetch() -> list[PipelineRecord]:
            if request.pipeline.name:
                project = _project(request.pipeline)
                if request.history:
                    history = self.engine.pipeline_history(project, request.pipeline.name)
                    return history if request.history < 0 else history[: request.history + 1]
                return [self.engine.inspect_pipeline(project, request.pipeline.name)]
            records = self.engine.list_pipelines(projects)
            if request.history:
                out = []
                for r in records:
                    history = self.engine.pipeline_history(r.project, r.name)
                    out.extend(history if request.history < 0 else history[: request.history + 1])
                return out
            return records

        for record in await self.rt.blocking(fetch):
            if request.commit_set.id and not await self.rt.blocking(
                lambda r=record: any(j.id == request.commit_set.id for j in self.engine.list_jobs(project=r.project, pipeline=r.name))
            ):
                continue
            yield pipeline_info_pb(record, details=True)

    @rpc
    async def DeletePipeline(self, request: pps_pb2.DeletePipelineRequest, context: Any) -> empty_pb2.Empty:
        if request.all:
            await self.rt.blocking(self.engine.delete_all)
            return empty_pb2.Empty()
        project, name = _project(request.pipeline), _name(request.pipeline)
        await self.rt.blocking(
            lambda: self.engine.delete_pipeline(
                project, name, force=request.force, keep_repo=request.keep_repo, must_exist=request.must_exist
            )
        )
        return empty_pb2.Empty()

    @rpc
    async def DeletePipelines(self, request: pps_pb2.DeletePipelinesRequest, context: Any) -> pps_pb2.DeletePipelinesResponse:
        projects = [p.name or DEFAULT_PROJECT for p in request.projects]
        if not request.all and not projects:
            raise InvalidArgument("DeletePipelines needs projects or all")

        def delete() -> list[PipelineRecord]:
            records = self.engine.list_pipelines([] if request.all else projects)
            for r in records:
                self.engine.delete_pipeline(r.project, r.name, force=True, keep_repo=request.keep_repo)
            return records

        records = await self.rt.blocking(delete)
        return pps_pb2.DeletePipelinesResponse(pipelines=[_pipeline_pb(r.project, r.name) for r in records])

    @rpc
    async def StopPipeline(self, request: pps_pb2.StopPipelineRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.engine.stop_pipeline, _project(request.pipeline), _name(request.pipeline))
        return empty_pb2.Empty()

    @rpc
    async def StartPipeline(self, request: pps_pb2.StartPipelineRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.engine.start_pipeline, _project(request.pipeline), _name(request.pipeline))
        return empty_pb2.Empty()

    @rpc
    async def DeleteAll(self, request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.engine.delete_all)
        return empty_pb2.Empty()

    # --- jobs --------------------------------------------------------------------

    def _job_info(self, job: JobRecord, details: bool) -> pps_pb2.JobInfo:
        record = self.engine.store.get(job.project, job.pipeline, job.version) if details else self.engine.store.get(job.project, job.pipeline)
        return job_info_pb(job, record, details)

    @rpc
    async def InspectJob(self, request: pps_pb2.InspectJobRequest, context: Any) -> pps_pb2.JobInfo:
        project, name, job_id = _project(request.job.pipeline), _name(request.job.pipeline), request.job.id
        if not job_id:
            raise InvalidArgument("no job id specified")
        fetch = lambda: self.engine.inspect_job(project, name, job_id)  # noqa: E731
        job = await (self.rt.wait_for(fetch, lambda j: j.state in TERMINAL) if request.wait else self.rt.blocking(fetch))
        return await self.rt.blocking(self._job_info, job, request.details)

    @rpc
    async def InspectJobSet(self, request: pps_pb2.InspectJobSetRequest, context: Any) -> AsyncIterator[pps_pb2.JobInfo]:
        set_id = request.job_set.id
        fetch = lambda: self.engine.job_set(set_id)  # noqa: E731
        jobs = await (self.rt.wait_for(fetch, lambda js: all(j.state in TERMINAL for j in js)) if request.wait else self.rt.blocking(fetch))
        for job in jobs:
            yield await self.rt.blocking(self._job_info, job, request.details)

    @rpc
    async def ListJob(self, request: pps_pb2.ListJobRequest, context: Any) -> AsyncIterator[pps_pb2.JobInfo]:
        project = _project(request.pipeline) if request.pipeline.name else None
        projects = {p.name or DEFAULT_PROJECT for p in request.projects}
        inputs = [cv.commit_ref(c) for c in request.input_commit]

        def fetch() -> list[pps_pb2.JobInfo]:
            jobs = self.engine.list_jobs(project=project, pipeline=request.pipeline.name or None)
            if projects:
                jobs = [j for j in jobs if j.project in projects]
            if inputs:
                wanted = {(k.repo, k.id) for k in (self.storage.inspect_commit(r).key for r in inputs)}
                kept = []
                for j in jobs:
                    info = self.storage.inspect_commit(CommitRef(RepoKey(j.project, j.pipeline), id=j.id))
                    if wanted & {(p.repo, p.id) for p in info.direct_provenance}:
                        kept.append(j)
                jobs = kept
            if request.reverse:
                jobs.reverse()
            if request.number:
                jobs = jobs[: request.number]
            return [self._job_info(j, request.details) for j in jobs]

        for info in await self.rt.blocking(fetch):
            yield info

    @rpc
    async def ListJobSet(self, request: pps_pb2.ListJobSetRequest, context: Any) -> AsyncIterator[pps_pb2.JobSetInfo]:
        def fetch() -> list[pps_pb2.JobSetInfo]:
            sets: dict[str, list[JobRecord]] = {}
            for job in self.engine.list_jobs():
                sets.setdefault(job.id, []).append(job)
            return [
                pps_pb2.JobSetInfo(job_set=pps_pb2.JobSet(id=sid), jobs=[self._job_info(j, request.details) for j in jobs])
                for sid, jobs in sets.items()
            ]

        for info in await self.rt.blocking(fetch):
            yield info

    @rpc
    async def SubscribeJob(self, request: pps_pb2.SubscribeJobRequest, context: Any) -> AsyncIterator[pps_pb2.JobInfo]:
        project, name = _project(request.pipeline), _name(request.pipeline)
        await self.rt.blocking(self.engine.inspect_pipeline, project, name)
        sent: dict[str, int] = {}
        async for _ in self.rt.changes():
            jobs = await self.rt.blocking(lambda: self.engine.list_jobs(project=project, pipeline=name))
            for job in reversed(jobs):
                if sent.get(job.id) != job.state:
                    sent[job.id] = job.state
                    yield await self.rt.blocking(self._job_info, job, request.details)

    @rpc
    async def StopJob(self, request: pps_pb2.StopJobRequest, context: Any) -> empty_pb2.Empty:
        project, name = _project(request.job.pipeline), _name(request.job.pipeline)
        await self.rt.blocking(self.engine.stop_job, project, name, request.job.id, request.reason)
        return empty_pb2.Empty()

    # --- datums ------------------------------------------------------------------

    @rpc
    async def ListDatum(self, request: pps_pb2.ListDatumRequest, context: Any) -> AsyncIterator[pps_pb2.DatumInfo]:
        if request.HasField("input"):
            raise InvalidArgument("listing datums for an input spec (dry run) is not supported yet")
        job = request.job
        project, name = _project(job.pipeline), _name(job.pipeline)
        states = set(request.filter.state)
        datums = await self.rt.blocking(self.engine.datums, project, name, job.id)
        if states:
            datums = [d for d in datums if d.state in states]
        if request.reverse:
            datums.reverse()
        if request.number:
            datums = datums[: request.number]
        for datum in datums:
            yield datum_info_pb(datum)

    @rpc
    async def InspectDatum(self, request: pps_pb2.InspectDatumRequest, context: Any) -> pps_pb2.DatumInfo:
        job = request.datum.job
        project, name = _project(job.pipeline), _name(job.pipeline)
        datums = await self.rt.blocking(self.engine.datums, project, name, job.id)
        for datum in datums:
            if datum.datum_id == request.datum.id:
                return datum_info_pb(datum)
        raise NotFound(f"datum {request.datum.id} not found in job {project}/{name}@{job.id}")

    # --- logs --------------------------------------------------------------------

    @rpc
    async def GetLogs(self, request: pps_pb2.GetLogsRequest, context: Any) -> AsyncIterator[pps_pb2.LogMessage]:
        pipeline = request.job.pipeline if request.job.id else request.pipeline
        project = _project(pipeline)
        name = pipeline.name or None
        job_id = request.job.id or None
        datum_id = request.datum.id or None
        if request.datum.job.id:
            job_id = request.datum.job.id
            name = request.datum.job.pipeline.name or name
        if name is not None:
            await self.rt.blocking(self.engine.inspect_pipeline, project, name)
        since = None
        if request.HasField("since"):
            since = self.storage.now() - request.since.ToTimedelta().total_seconds()
        filters = list(request.data_filters)
        last = 0

        def fetch() -> list[Any]:
            rows = self.engine.store.logs(
                project=project, pipeline=name, job_id=job_id, datum_id=datum_id, after_seq=last, since=since
            )
            if request.master:
                rows = [r for r in rows if not r.user]
            return rows

        def message(r: Any) -> pps_pb2.LogMessage:
            msg = pps_pb2.LogMessage(
                project_name=r.project, pipeline_name=r.pipeline, job_id=r.job_id, datum_id=r.datum_id,
                user=r.user, master=not r.user, message=r.message,
            )
            ts = cv.timestamp(r.ts)
            if ts is not None:
                msg.ts.CopyFrom(ts)
            return msg

        rows = await self.rt.blocking(fetch)
        if request.tail > 0:
            rows = rows[-request.tail :]
        for r in rows:
            last = max(last, r.seq)
            if filters and not any(f in r.message or f == r.datum_id for f in filters):
                continue
            yield message(r)
        if not request.follow:
            return
        async for _ in self.rt.changes():
            rows = await self.rt.blocking(fetch)
            for r in rows:
                last = max(last, r.seq)
                yield message(r)
            if job_id is not None and name is not None:
                job = await self.rt.blocking(self.engine.inspect_job, project, name, job_id)
                if job.state in TERMINAL:
                    rows = await self.rt.blocking(fetch)
                    for r in rows:
                        last = max(last, r.seq)
                        yield message(r)
                    return
