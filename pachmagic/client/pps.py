"""``client.pps``: pipelines, jobs, datums and logs (``pps_v2.API``).

Pipeline specs are pachctl's JSON/YAML (parsed by ``pachmagic.pachyderm.spec``) and are sent
with ``CreatePipelineV2`` (JSON, as pachctl 2.8+ does), falling back to
``CreatePipeline`` when the server answers UNIMPLEMENTED (older pachd); the
fallback is remembered per client. Jobs are ``pipeline@id`` strings, ``Job``
refs or ``(pipeline, id)`` pairs. This module does no pandas conversion.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, Union

from google.protobuf import empty_pb2, json_format

from pachmagic._proto import pps_pb2
from pachmagic.client import _convert as cv
from pachmagic.client._transport import Transport
from pachmagic.client.records import DatumInfo, JobInfo, LogMessage, PipelineInfo, RecordList
from pachmagic.client._coerce import to_job, to_pipeline
from pachmagic.client.refs import Job, Pipeline
from pachmagic.pachyderm.spec import parse_pipeline_specs, spec_to_json
from pachmagic.errors import InvalidArgument, Unimplemented

__all__ = ["Pps"]

JobLike = Union[Job, str, tuple[str, str]]
Spec = Union[str, bytes, dict[str, Any], Iterable[dict[str, Any]], pps_pb2.CreatePipelineRequest]


def _mapped(
    stream: Generator[Any, None, None], convert: Callable[[Any], LogMessage]
) -> Generator[LogMessage, None, None]:
    """Convert a stream lazily; closing the result closes (cancels) the stream."""
    try:
        for message in stream:
            yield convert(message)
    finally:
        stream.close()


class Pps:
    """The PPS API of a client (``client.pps``).

    Parameters
    ----------
    transport:
        The client's transport.
    project:
        Returns the client's current project.
    """

    def __init__(self, transport: Transport, project: Callable[[], str]) -> None:
        self._t = transport
        self._project = project
        self._v2: bool | None = None  # None: not tried yet

    def _pipeline_pb(self, pipeline: Pipeline | str) -> pps_pb2.Pipeline:
        return cv.pipeline_pb(to_pipeline(pipeline), self._project())

    def _job_pb(self, job: JobLike) -> pps_pb2.Job:
        return cv.job_pb(to_job(job), self._project())

    # --- pipelines --------------------------------------------------------

    def create_pipeline(
        self, spec: Spec, *, update: bool = False, reprocess: bool = False, dry_run: bool = False
    ) -> list[Pipeline]:
        """Create (or update) one or more pipelines from a spec.

        Parameters
        ----------
        spec:
            JSON or YAML text (several documents create several pipelines), a
            dict, a list of dicts or a ``CreatePipelineRequest``. Unknown fields
            are an ``InvalidArgument`` naming the field.
        update:
            Update existing pipelines (``update pipeline``).
        reprocess:
            With ``update``, reprocess datums already processed.
        dry_run:
            Let the server validate the spec without creating anything (what
            it checks is up to the server: pachd, for one, does not check in a
            dry run that the inputs exist).

        Returns
        -------
        list[Pipeline]
            The refs of the pipelines, in spec order.
        """
        created = []
        for parsed in parse_pipeline_specs(spec):
            request = pps_pb2.CreatePipelineRequest()
            request.CopyFrom(parsed)  # never modify a request the caller passed in
            if not request.pipeline.project.name:
                request.pipeline.project.name = self._project()
            request.dry_run = dry_run or request.dry_run
            self._send_pipeline(request, update=update or request.update, reprocess=reprocess or request.reprocess)
            created.append(Pipeline(request.pipeline.name, request.pipeline.project.name))
        return created

    def _send_pipeline(self, request: pps_pb2.CreatePipelineRequest, *, update: bool, reprocess: bool) -> None:
        if self._v2 is not False:
            v2 = pps_pb2.CreatePipelineV2Request(
                create_pipeline_request_json=spec_to_json(request),
                update=update,
                reprocess=reprocess,
                dry_run=request.dry_run,
            )
            try:
                self._t.unary(self._t.pps.CreatePipelineV2, v2)
                self._v2 = True
                return
            except Unimplemented:
                if self._v2:  # the server supports V2: this is a real answer
                    raise
                self._v2 = False
        request.update, request.reprocess = update, reprocess
        self._t.unary(self._t.pps.CreatePipeline, request)

    def inspect_pipeline(self, pipeline: Pipeline | str, *, details: bool = True) -> PipelineInfo:
        """Return a pipeline's info (with its spec unless ``details=False``)."""
        request = pps_pb2.InspectPipelineRequest(pipeline=self._pipeline_pb(pipeline), details=details)
        return cv.pipeline_info(self._t.unary(self._t.pps.InspectPipeline, request))

    def list_pipeline(
        self,
        pipeline: Pipeline | str | None = None,
        *,
        details: bool = False,
        project: str | None = None,
        all_projects: bool = False,
        history: int = 0,
    ) -> RecordList[PipelineInfo]:
        """List pipelines of a project, or of all projects.

        ``pipeline`` limits the listing to one pipeline; ``history`` adds that
        many earlier versions of each (-1 = every version), newest first.
        """
        projects = [] if all_projects or pipeline is not None else [cv.project_pb(project or self._project())]
        request = pps_pb2.ListPipelineRequest(details=details, projects=projects, history=history)
        if pipeline is not None:
            request.pipeline.CopyFrom(self._pipeline_pb(pipeline))
        stream = self._t.stream(self._t.pps.ListPipeline, request)
        return RecordList(PipelineInfo, (cv.pipeline_info(pb) for pb in stream))

    def delete_pipeline(self, pipeline: Pipeline | str, *, force: bool = False, keep_repo: bool = False) -> None:
        """Delete a pipeline, its spec/meta repos and (unless ``keep_repo``) its output repo."""
        request = pps_pb2.DeletePipelineRequest(
            pipeline=self._pipeline_pb(pipeline), force=force, keep_repo=keep_repo
        )
        self._t.unary(self._t.pps.DeletePipeline, request)

    def start_pipeline(self, pipeline: Pipeline | str) -> None:
        """Restart a stopped pipeline (a new job runs over the current inputs)."""
        request = pps_pb2.StartPipelineRequest(pipeline=self._pipeline_pb(pipeline))
        self._t.unary(self._t.pps.StartPipeline, request)

    def stop_pipeline(self, pipeline: Pipeline | str) -> None:
        """Stop a pipeline: running jobs are killed, no new jobs start."""
        request = pps_pb2.StopPipelineRequest(pipeline=self._pipeline_pb(pipeline))
        self._t.unary(self._t.pps.StopPipeline, request)

    # --- jobs -------------------------------------------------------------

    def list_job(
        self,
        *,
        pipeline: Pipeline | str | None = None,
        project: str | None = None,
        all_projects: bool = False,
        history: int = 0,
        number: int = 0,
        details: bool = False,
    ) -> RecordList[JobInfo]:
        """List jobs, newest first.

        Parameters
        ----------
        pipeline:
            Only this pipeline's jobs (default: every pipeline of the project).
        project, all_projects:
            Which project's jobs without ``pipeline`` (default: the current one).
        history:
            Also jobs of earlier pipeline versions (-1 = all).
        number:
            At most this many (0 = all).
        details:
            Ask for job details too.
        """
        request = pps_pb2.ListJobRequest(history=history, number=number, details=details)
        if pipeline is not None:
            request.pipeline.CopyFrom(self._pipeline_pb(pipeline))
        elif not all_projects:
            request.projects.append(cv.project_pb(project or self._project()))
        stream = self._t.stream(self._t.pps.ListJob, request)
        return RecordList(JobInfo, (cv.job_info(pb) for pb in stream))

    def inspect_job(self, job: JobLike, *, wait: bool = False, details: bool = False) -> JobInfo:
        """Return a job's info; ``wait=True`` blocks until the job is done."""
        request = pps_pb2.InspectJobRequest(job=self._job_pb(job), wait=wait, details=details)
        return cv.job_info(self._t.unary(self._t.pps.InspectJob, request, cancellable=wait))

    def wait_job(self, job: JobLike) -> JobInfo:
        """Block until a job reaches a terminal state; return its info."""
        return self.inspect_job(job, wait=True)

    def stop_job(self, job: JobLike, *, reason: str = "") -> None:
        """Kill a running job (its output commit is finished with ``reason`` as error)."""
        request = pps_pb2.StopJobRequest(job=self._job_pb(job), reason=reason)
        self._t.unary(self._t.pps.StopJob, request)

    def inspect_job_set(self, job_set_id: str, *, wait: bool = False) -> RecordList[JobInfo]:
        """The jobs of one global id (one per pipeline), optionally after they all finish."""
        request = pps_pb2.InspectJobSetRequest(job_set=pps_pb2.JobSet(id=job_set_id), wait=wait)
        stream = self._t.stream(self._t.pps.InspectJobSet, request)
        return RecordList(JobInfo, (cv.job_info(pb) for pb in stream))

    # --- datums -----------------------------------------------------------

    def list_datum(
        self, job: JobLike | None = None, *, input: Mapping[str, Any] | pps_pb2.Input | None = None
    ) -> RecordList[DatumInfo]:
        """List the datums of a job, or (``input=``) those an input spec would have.

        With ``input`` (a dict in pipeline-spec form, e.g. ``{"pfs": {"repo":
        "photos", "glob": "/*"}}``, or an ``Input`` message) nothing runs: the
        server plans the datums over the inputs' current branch heads, as
        ``pachctl list datum -f spec.json`` does.
        """
        if input is not None and job is None:
            if isinstance(input, pps_pb2.Input):
                node = input
            else:
                node = pps_pb2.Input()
                try:
                    json_format.ParseDict(dict(input), node)
                except json_format.ParseError as err:
                    raise InvalidArgument(f"invalid input spec: {err}") from None
            request = pps_pb2.ListDatumRequest(input=node)
        elif job is not None and input is None:
            request = pps_pb2.ListDatumRequest(job=self._job_pb(job))
        else:
            raise InvalidArgument("list_datum needs a job or an input spec (not both)")
        stream = self._t.stream(self._t.pps.ListDatum, request)
        return RecordList(DatumInfo, (cv.datum_info(pb) for pb in stream))

    def inspect_datum(self, job: JobLike, datum_id: str) -> DatumInfo:
        """Return one datum of a job."""
        request = pps_pb2.InspectDatumRequest(datum=pps_pb2.Datum(job=self._job_pb(job), id=datum_id))
        return cv.datum_info(self._t.unary(self._t.pps.InspectDatum, request))

    def restart_datum(self, job: JobLike, *, data_filters: Iterable[str] = ()) -> None:
        """Run a job's failed datums again (all of them, or those matching ``data_filters``)."""
        request = pps_pb2.RestartDatumRequest(job=self._job_pb(job), data_filters=list(data_filters))
        self._t.unary(self._t.pps.RestartDatum, request)

    # --- logs -------------------------------------------------------------

    def get_logs(
        self,
        *,
        pipeline: Pipeline | str | None = None,
        job: JobLike | None = None,
        datum: str | None = None,
        follow: bool = False,
        master: bool = False,
        tail: int = 0,
        since: timedelta | None = None,
        data_filters: Iterable[str] = (),
    ) -> Generator[LogMessage, None, None]:
        """Iterate log messages of a pipeline, a job or a datum.

        The call starts on the first ``next()``; with ``follow=True`` the
        iterator waits for new lines until closed (``break`` cancels the call).

        Parameters
        ----------
        pipeline:
            A pipeline's logs.
        job:
            A job's logs (``pipeline@id``).
        datum:
            With ``job``, one datum's logs.
        follow:
            Keep waiting for new lines.
        master:
            The pipeline master's logs instead of user code's.
        tail:
            The request's ``tail``: only a pachd reading its pods' logs honours it (per pod, system
            lines too); one reading Loki (its Helm chart's default) ignores it, as does the embedded
            server. For the last lines, cut the result (``%pach logs --tail`` does).
        since:
            Only lines younger than this.
        data_filters:
            Only lines about these input paths.
        """
        request = pps_pb2.GetLogsRequest(
            follow=follow, master=master, tail=tail, data_filters=list(data_filters)
        )
        if pipeline is not None:
            request.pipeline.CopyFrom(self._pipeline_pb(pipeline))
        if job is not None:
            request.job.CopyFrom(self._job_pb(job))
            if datum is not None:
                request.datum.CopyFrom(pps_pb2.Datum(job=self._job_pb(job), id=datum))
        if since is not None:
            request.since.FromTimedelta(since)
        return _mapped(self._t.stream(self._t.pps.GetLogs, request), cv.log_message)

    def delete_all(self) -> None:
        """Delete every pipeline (``pachctl delete all`` for PPS)."""
        self._t.unary(self._t.pps.DeleteAll, empty_pb2.Empty())
