"""``pps_v2.API``: thin gRPC adapters over the pipeline ``Engine``.

Conversions from engine records to messages live in ``_pps_convert``; pipeline
behaviour, filtering and paging live in ``server/pipelines`` (``queries``). Waits
(``InspectJob(wait)``, ``InspectJobSet(wait)``, ``SubscribeJob``,
``GetLogs(follow)``) sleep on the runtime's change events and hold no thread
between checks.

Over 400 lines because it holds one method per RPC of ``pps_v2.API`` (about
forty, each a few lines over the engine); the conversions (``_pps_convert``),
the create path (``_pps_create``) and the defaults (``pps_defaults``) are apart.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from google.protobuf import empty_pb2, json_format

from ..._proto import pps_pb2, pps_pb2_grpc
from ...errors import InvalidArgument, NotFound, Unknown
from ..pipelines import Engine
from ..pipelines.queries import CommitTimes, since_window
from ..pipelines.states import TERMINAL
from ..storage import CommitRef, RepoKey, Storage
from ..storage.model import DEFAULT_PROJECT, META, parse_ancestry
from ..storage.pipeline_records import JobRecord, PipelineRecord
from . import _convert as cv
from ._base import Runtime, rpc
from ._pps_convert import (
    datum_info_pb,
    job_info_pb,
    log_message_pb,
    pipeline_info_pb,
    pipeline_pb,
    planned_datum_pb,
    planned_inputs,
)
from ._jq import compile_filter
from ._pps_create import check_ancestry_name, effective, response_json, v1_user_json
from .pps_defaults import PpsDefaultsMixin

__all__ = ["PpsServicer", "pipeline_info_pb", "job_info_pb", "datum_info_pb"]


def _project(pipeline: pps_pb2.Pipeline) -> str:
    return pipeline.project.name or DEFAULT_PROJECT


def _name(pipeline: pps_pb2.Pipeline) -> str:
    if not pipeline.name:
        raise InvalidArgument("no pipeline specified")
    return pipeline.name


class PpsServicer(PpsDefaultsMixin, pps_pb2_grpc.APIServicer):
    """The PPS API of the embedded server."""

    def __init__(self, engine: Engine, storage: Storage, runtime: Runtime) -> None:
        self.engine = engine
        self.storage = storage
        self.rt = runtime

    # --- pipelines ---------------------------------------------------------------

    @rpc
    async def CreatePipeline(self, request: pps_pb2.CreatePipelineRequest, context: Any) -> empty_pb2.Empty:
        # As pachd: the request becomes its JSON and takes the V2 path.
        await self._create(v1_user_json(request), update=request.update, reprocess=request.reprocess,
                           dry_run=request.dry_run)
        return empty_pb2.Empty()

    @rpc
    async def CreatePipelineV2(self, request: pps_pb2.CreatePipelineV2Request, context: Any) -> pps_pb2.CreatePipelineV2Response:
        answer = await self._create(
            request.create_pipeline_request_json, update=request.update, reprocess=request.reprocess,
            dry_run=request.dry_run,
        )
        return pps_pb2.CreatePipelineV2Response(effective_create_pipeline_request_json=answer)

    async def _create(self, user_json: str, *, update: bool, reprocess: bool, dry_run: bool) -> str:
        _, spec = effective(user_json, self.engine.cluster_defaults)
        spec.update, spec.reprocess = update, reprocess  # pachd's answer shows the request's flags
        answer = response_json(spec)
        spec.update = spec.reprocess = False
        if dry_run:  # pachd validates no further on a dry run
            return answer
        check_ancestry_name(spec.pipeline.name)
        await self.rt.blocking(
            lambda: self.engine.create_pipeline(spec, update=update, reprocess=reprocess, user_json=user_json)
        )
        return answer

    def _versioned(self, project: str, name: str) -> PipelineRecord:
        """``name``, or an earlier version with ancestry (``name^``, ``name^2``, ``name~1``)."""
        self.storage.inspect_project(project)  # pachd looks the project up first
        base, back, _ = parse_ancestry(name) if any(c in name for c in "^~") else (name, 0, None)
        if not back:
            return self.engine.inspect_pipeline(project, base)
        history = self.engine.pipeline_history(project, base)
        if back >= len(history):
            raise Unknown(
                f'pipeline "{project}/{base}" has only {len(history)} versions, not enough to find ancestor {back}'
            )
        return history[back]

    @rpc
    async def InspectPipeline(self, request: pps_pb2.InspectPipelineRequest, context: Any) -> pps_pb2.PipelineInfo:
        if not request.HasField("pipeline"):  # pachd's request validation
            raise InvalidArgument("validate request: invalid InspectPipelineRequest.Pipeline: value is required")
        project, name = _project(request.pipeline), _name(request.pipeline)
        record = await self.rt.blocking(self._versioned, project, name)
        # As pachd: details=false leaves PipelineInfo.details unset ("preserve old
        # behavior"), so code that reads them without asking fails here as on a cluster.
        return pipeline_info_pb(record, details=request.details, cluster_defaults=self.engine.cluster_defaults)

    @rpc
    async def ListPipeline(self, request: pps_pb2.ListPipelineRequest, context: Any) -> AsyncIterator[pps_pb2.PipelineInfo]:
        projects = [p.name or DEFAULT_PROJECT for p in request.projects]
        keep = compile_filter(request.jqFilter) if request.jqFilter else None

        def versions(record: PipelineRecord) -> list[PipelineRecord]:
            if not request.history:
                return [record]
            history = self.engine.pipeline_history(record.project, record.name)
            return history if request.history < 0 else history[: request.history + 1]

        def fetch() -> list[PipelineRecord]:
            if request.pipeline.name:
                records = [self._versioned(_project(request.pipeline), request.pipeline.name)]
            else:
                records = self.engine.list_pipelines(projects)
            # As pachd: every version listed, the most recently created first
            out = sorted((v for r in records for v in versions(r)), key=lambda r: r.updated, reverse=True)
            if request.commit_set.id:
                in_set = {(j.project, j.pipeline) for j in self.engine.list_jobs(job_id=request.commit_set.id)}
                out = [r for r in out if (r.project, r.name) in in_set]
            if request.page.page_size > 0:
                start = request.page.page_index * request.page.page_size
                out = out[start : start + request.page.page_size]
            return out

        # pachd ignores ``details`` here: listed pipelines always carry them.
        for record in await self.rt.blocking(fetch):
            info = pipeline_info_pb(record, details=True, listed=True, cluster_defaults=self.engine.cluster_defaults)
            if keep is None or keep(json_format.MessageToDict(info, preserving_proto_field_name=True)):
                yield info

    @rpc
    async def DeletePipeline(self, request: pps_pb2.DeletePipelineRequest, context: Any) -> empty_pb2.Empty:
        if request.all:
            await self.rt.blocking(lambda: self.engine.delete_pipelines(keep_repo=request.keep_repo))
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
            return pps_pb2.DeletePipelinesResponse()  # as pachd: nothing named, nothing deleted
        records = await self.rt.blocking(
            lambda: self.engine.delete_pipelines([] if request.all else projects, keep_repo=request.keep_repo)
        )
        return pps_pb2.DeletePipelinesResponse(pipelines=[pipeline_pb(r.project, r.name) for r in records])

    @rpc
    async def StopPipeline(self, request: pps_pb2.StopPipelineRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.engine.stop_pipeline, _project(request.pipeline), _name(request.pipeline))
        return empty_pb2.Empty()

    @rpc
    async def StartPipeline(self, request: pps_pb2.StartPipelineRequest, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.engine.start_pipeline, _project(request.pipeline), _name(request.pipeline))
        return empty_pb2.Empty()

    @rpc
    async def RerunPipeline(self, request: pps_pb2.RerunPipelineRequest, context: Any) -> empty_pb2.Empty:
        project, name = _project(request.pipeline), _name(request.pipeline)

        await self.rt.blocking(lambda: self.engine.rerun_pipeline(project, name, reprocess=request.reprocess))
        return empty_pb2.Empty()

    @rpc
    async def RunCron(self, request: pps_pb2.RunCronRequest, context: Any) -> empty_pb2.Empty:
        project, name = _project(request.pipeline), _name(request.pipeline)
        await self.rt.blocking(self.engine.run_cron, project, name)
        return empty_pb2.Empty()

    @rpc
    async def DeleteAll(self, request: empty_pb2.Empty, context: Any) -> empty_pb2.Empty:
        await self.rt.blocking(self.engine.delete_all)
        return empty_pb2.Empty()

    # --- jobs --------------------------------------------------------------------

    def _job_info(self, job: JobRecord, details: bool) -> pps_pb2.JobInfo:
        return job_info_pb(job, self.engine.job_pipeline(job, own_version=details), details)

    @rpc
    async def InspectJob(self, request: pps_pb2.InspectJobRequest, context: Any) -> pps_pb2.JobInfo:
        project, name, job_id = _project(request.job.pipeline), _name(request.job.pipeline), request.job.id
        fetch = lambda: self.engine.inspect_job(project, name, job_id)  # noqa: E731
        job = await (self.rt.wait_for(fetch, lambda j: j.state in TERMINAL) if request.wait else self.rt.blocking(fetch))
        return await self.rt.blocking(self._job_info, job, request.details)

    @rpc
    async def InspectJobSet(self, request: pps_pb2.InspectJobSetRequest, context: Any) -> AsyncIterator[pps_pb2.JobInfo]:
        set_id = request.job_set.id
        fetch = lambda: self.engine.job_set(set_id)  # noqa: E731
        done = lambda js: all(j.state in TERMINAL for j in js)  # noqa: E731
        jobs = await (self.rt.wait_for(fetch, done) if request.wait else self.rt.blocking(fetch))
        for job in jobs:  # the commit set's order, upstream first
            yield await self.rt.blocking(self._job_info, job, request.details)

    @rpc
    async def ListJob(self, request: pps_pb2.ListJobRequest, context: Any) -> AsyncIterator[pps_pb2.JobInfo]:
        pipeline = request.pipeline.name or None
        project = _project(request.pipeline) if pipeline else None
        marker = request.paginationMarker.ToNanoseconds() / 1e9 if request.HasField("paginationMarker") else None

        def fetch() -> list[pps_pb2.JobInfo]:
            jobs = self.engine.find_jobs(
                project=project, pipeline=pipeline, projects=[p.name or DEFAULT_PROJECT for p in request.projects],
                history=request.history, input_commits=[cv.commit_ref(c) for c in request.input_commit],
                marker=marker, reverse=request.reverse, number=request.number,
            )
            return [self._job_info(j, request.details) for j in jobs]

        for info in await self.rt.blocking(fetch):
            yield info

    @rpc
    async def ListJobSet(self, request: pps_pb2.ListJobSetRequest, context: Any) -> AsyncIterator[pps_pb2.JobSetInfo]:
        projects = {p.name or DEFAULT_PROJECT for p in request.projects}

        marker = request.paginationMarker.ToNanoseconds() / 1e9 if request.HasField("paginationMarker") else None

        def fetch() -> list[pps_pb2.JobSetInfo]:
            sets: dict[str, list[JobRecord]] = {}  # newest first: jobs come newest first
            for job in self.engine.list_jobs():
                if not projects or job.project in projects:
                    sets.setdefault(job.id, []).append(job)
            ordered = list(sets.items())
            if marker is not None:
                ordered = [(s, js) for s, js in ordered if (min(j.created for j in js) > marker if request.reverse
                                                             else min(j.created for j in js) < marker)]
            if request.reverse:
                ordered.reverse()
            if request.number:
                ordered = ordered[: request.number]
            return [
                pps_pb2.JobSetInfo(job_set=pps_pb2.JobSet(id=sid),
                                   jobs=[self._job_info(j, request.details) for j in self._set_order(sid, jobs)])
                for sid, jobs in ordered
            ]

        for info in await self.rt.blocking(fetch):
            yield info

    def _set_order(self, set_id: str, jobs: list[JobRecord]) -> list[JobRecord]:
        """A set's jobs (those listed) in its commit set's order, as InspectJobSet sends them."""
        wanted = {j.key for j in jobs}
        return [j for j in self.engine.job_set(set_id) if j.key in wanted]

    @rpc
    async def SubscribeJob(self, request: pps_pb2.SubscribeJobRequest, context: Any) -> AsyncIterator[pps_pb2.JobInfo]:
        project, name = _project(request.pipeline), _name(request.pipeline)
        await self.rt.blocking(self.engine.inspect_pipeline, project, name)
        sent: dict[str, int] = {}
        async for _ in self.rt.changes():
            jobs = await self.rt.blocking(lambda: self.engine.list_jobs(project=project, pipeline=name))
            for job in reversed(jobs):  # oldest first
                if sent.get(job.id) != job.state:
                    sent[job.id] = job.state
                    yield await self.rt.blocking(self._job_info, job, request.details)

    @rpc
    async def StopJob(self, request: pps_pb2.StopJobRequest, context: Any) -> empty_pb2.Empty:
        project, name = _project(request.job.pipeline), _name(request.job.pipeline)
        await self.rt.blocking(self.engine.stop_job, project, name, request.job.id, request.reason)
        return empty_pb2.Empty()

    @rpc
    async def DeleteJob(self, request: pps_pb2.DeleteJobRequest, context: Any) -> empty_pb2.Empty:
        project, name = _project(request.job.pipeline), _name(request.job.pipeline)
        await self.rt.blocking(self.engine.delete_job, project, name, request.job.id)
        return empty_pb2.Empty()

    # --- datums ------------------------------------------------------------------

    @rpc
    async def ListDatum(self, request: pps_pb2.ListDatumRequest, context: Any) -> AsyncIterator[pps_pb2.DatumInfo]:
        if request.reverse and request.number <= 0:  # pachd's check, first
            raise Unknown("number must be > 0 when reverse is set")
        marker, reverse, number = request.paginationMarker, request.reverse, request.number
        if request.HasField("input"):
            if not request.input.ListFields():
                raise Unknown("unrecognized input type: ")
            project = _project(request.job.pipeline) if request.job.pipeline.name else DEFAULT_PROJECT
            try:
                planned = await self.rt.blocking(lambda: self.engine.dry_run_datums(
                    request.input, project, marker=marker, reverse=reverse, number=number))
            except NotFound as err:  # pachd plans on a worker: every failure comes back UNKNOWN
                raise Unknown(err.details) from None
            times = await self.rt.blocking(self.engine.commit_times, [i for d in planned for i in planned_inputs(d)])
            infos = [planned_datum_pb(d, times) for d in planned]
        else:
            job = request.job
            if not job.pipeline.name:
                raise Unknown("must specify a job")
            project, name = _project(job.pipeline), _name(job.pipeline)
            await self.rt.blocking(self._check_meta_base, project, name, job.id)
            records = await self.rt.blocking(lambda: self.engine.list_datums(
                project, name, job.id, states=request.filter.state, marker=marker, reverse=reverse, number=number))
            times = await self.rt.blocking(self.engine.commit_times, [i for d in records for i in d.inputs])
            image, _ = await self.rt.blocking(self._datum_context, project, name, job.id)
            infos = [datum_info_pb(d, times, image=image) for d in records]
        for info in infos:
            yield info

    @rpc
    async def CreateDatum(self, request_iterator: Any, context: Any) -> AsyncIterator[pps_pb2.DatumInfo]:
        planned: list[Any] = []
        times: CommitTimes = {}
        started = False
        position = 0
        async for request in request_iterator:
            if request.HasField("start"):
                planned = await self.rt.blocking(self.engine.dry_run_datums, request.start.input, DEFAULT_PROJECT)
                times = await self.rt.blocking(self.engine.commit_times, [i for d in planned for i in planned_inputs(d)])
                started, position, number = True, 0, request.start.number
            elif not started:
                raise InvalidArgument("CreateDatum must start with a start message")
            else:
                number = getattr(request, "continue").number  # a Python keyword as a field name
            end = len(planned) if number <= 0 else position + number
            for datum in planned[position:end]:
                yield planned_datum_pb(datum, times)
            position = min(end, len(planned))
            if position >= len(planned):
                return

    def _check_meta_base(self, project: str, name: str, job_id: str) -> None:
        """pachd reads a job's datums from its meta commit, which needs a finished base commit."""
        try:
            meta = self.storage.inspect_commit(CommitRef(RepoKey(project, name, META), id=job_id))
            if meta.parent is None:
                return
            parent = self.storage.inspect_commit(CommitRef(meta.parent.repo, id=meta.parent.id))
        except NotFound:
            return
        if parent.finished is None:
            raise Unknown(
                f"next: rpc error: code = Unknown desc = base commit {parent.key} for commit {meta.key} unfinished"
            )

    @rpc
    async def InspectDatum(self, request: pps_pb2.InspectDatumRequest, context: Any) -> pps_pb2.DatumInfo:
        job = request.datum.job
        project, name = _project(job.pipeline), _name(job.pipeline)
        await self.rt.blocking(self._check_meta_base, project, name, job.id)
        for datum in await self.rt.blocking(self.engine.datums, project, name, job.id):
            if datum.datum_id == request.datum.id:
                times = await self.rt.blocking(self.engine.commit_times, datum.inputs)
                image, branch = await self.rt.blocking(self._datum_context, project, name, job.id)
                return datum_info_pb(datum, times, image=image, meta_branch=branch)
        # pachd: a plain error (UNKNOWN), not NOT_FOUND (api_server.go InspectDatum; the run corpus)
        raise Unknown(f"datum {request.datum.id} not found in job {project}/{name}@{job.id}")

    def _datum_context(self, project: str, name: str, job_id: str) -> tuple[str, str]:
        """The image a job's datums ran with, and its output branch (its meta commits' branch)."""
        record = self.engine.job_pipeline(self.engine.inspect_job(project, name, job_id), own_version=True)
        if record is None:
            return "", "master"
        return record.spec.transform.image, record.spec.output_branch or "master"

    @rpc
    async def RestartDatum(self, request: pps_pb2.RestartDatumRequest, context: Any) -> empty_pb2.Empty:
        project, name, job_id = _project(request.job.pipeline), _name(request.job.pipeline), request.job.id
        filters = list(request.data_filters)
        await self.rt.blocking(lambda: self.engine.restart_datums(project, name, job_id, filters=filters))
        return empty_pb2.Empty()

    # --- logs --------------------------------------------------------------------

    @rpc
    async def GetLogs(self, request: pps_pb2.GetLogsRequest, context: Any) -> AsyncIterator[pps_pb2.LogMessage]:
        pipeline = request.job.pipeline if request.job.id else request.pipeline
        job_id = request.job.id or None
        if request.datum.job.id:
            job_id = request.datum.job.id
            pipeline = request.datum.job.pipeline if request.datum.job.pipeline.name else pipeline
        window = request.since.ToTimedelta().total_seconds() if request.HasField("since") else 0.0
        cursor = await self.rt.blocking(lambda: self.engine.logs(
            project=_project(pipeline), pipeline=pipeline.name or None, job_id=job_id,
            datum_id=request.datum.id or None, master=request.master, since=since_window(window),
            filters=request.data_filters,
        ))

        def fetch() -> list[pps_pb2.LogMessage]:
            return [log_message_pb(record, inputs) for record, inputs in cursor.fetch()]

        # ``tail`` is not applied, as by a deployed pachd: its logs come from Loki (the Helm chart's
        # lokiLogging), and that path reads every line since the job (or the last day) whatever the
        # tail. Clients wanting the last lines cut them (``%pach logs --tail``).
        messages = await self.rt.blocking(fetch)
        for message in messages:
            yield message
        if not request.follow:
            return
        async for _ in self.rt.changes():
            done = await self.rt.blocking(cursor.finished)
            for message in await self.rt.blocking(fetch):
                yield message
            if done:
                return
