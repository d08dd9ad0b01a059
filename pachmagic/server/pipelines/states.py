"""Job, datum and pipeline states, bound to the values of Pachyderm's protos.

The engine's only contact with generated code: every other module of the engine
names states through these enums (``JobState.SUCCESS``), never through ``pps_pb2``,
so a value can neither be copied wrong nor drift. ``IntEnum`` members are the
integers stored in the database and sent on the wire. No gRPC here.
"""

from __future__ import annotations

from enum import IntEnum

from ..._proto import pps_pb2

__all__ = ["JobState", "DatumState", "PipelineState", "TERMINAL", "UNFINISHED"]


class JobState(IntEnum):
    """``pps_v2.JobState``."""

    CREATED = pps_pb2.JOB_CREATED
    STARTING = pps_pb2.JOB_STARTING  # waiting for its input commits to finish
    RUNNING = pps_pb2.JOB_RUNNING
    FAILURE = pps_pb2.JOB_FAILURE
    SUCCESS = pps_pb2.JOB_SUCCESS
    KILLED = pps_pb2.JOB_KILLED
    EGRESSING = pps_pb2.JOB_EGRESSING  # never entered here: there is no egress
    FINISHING = pps_pb2.JOB_FINISHING
    UNRUNNABLE = pps_pb2.JOB_UNRUNNABLE


class DatumState(IntEnum):
    """``pps_v2.DatumState``."""

    FAILED = pps_pb2.FAILED
    SUCCESS = pps_pb2.SUCCESS
    SKIPPED = pps_pb2.SKIPPED
    STARTING = pps_pb2.STARTING
    RECOVERED = pps_pb2.RECOVERED


class PipelineState(IntEnum):
    """``pps_v2.PipelineState`` (the ones the embedded server enters)."""

    STARTING = pps_pb2.PIPELINE_STARTING
    RUNNING = pps_pb2.PIPELINE_RUNNING
    FAILURE = pps_pb2.PIPELINE_FAILURE
    PAUSED = pps_pb2.PIPELINE_PAUSED


# A job in one of these states never changes again.
TERMINAL: frozenset[JobState] = frozenset({JobState.FAILURE, JobState.SUCCESS, JobState.KILLED, JobState.UNRUNNABLE})
UNFINISHED: frozenset[JobState] = frozenset(JobState) - TERMINAL
