"""Where and how a transform runs: its command's lookup, its working directory and Pachyderm's variables.

The image is recorded, not pulled: the command must exist on this machine, and
``python``/``python3`` resolve to the server's own interpreter environment first.
Every datum starts from the environment of ``job_env`` (Pachyderm's worker
variables, the spec's ``transform.env``), minus the server's own secrets. No gRPC here.
"""

from __future__ import annotations

import os
import shutil
import sys

from ...errors import FailedPrecondition
from ..storage.pipeline_records import PipelineRecord

__all__ = ["check_runnable", "job_env", "working_dir"]

# The server's own secrets stay out of user code's environment.
_PRIVATE_ENV = ("PACHMAGIC_AUTH_TOKEN",)


def _path() -> str:
    return os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", os.defpath)


def working_dir(pipeline: PipelineRecord, workdir: str) -> str:
    """The transform's working directory: the spec's ``working_dir``, else the server's workdir."""
    return pipeline.spec.transform.working_dir or workdir


def check_runnable(pipeline: PipelineRecord, workdir: str) -> None:
    """Raise ``FailedPrecondition`` if the spec cannot run here: no working directory, no such command."""
    transform = pipeline.spec.transform
    cwd = working_dir(pipeline, workdir)
    if not os.path.isdir(cwd):
        raise FailedPrecondition(f"working directory {cwd} does not exist")
    program = transform.cmd[0]
    if "/" in program:
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        found = os.access(path, os.X_OK) and os.path.isfile(path)
    else:
        env_path = dict(transform.env).get("PATH") or _path()
        found = shutil.which(program, path=env_path) is not None
    if not found:
        raise FailedPrecondition(f'transform command "{program}" was not found (the image is not pulled here)')


def job_env(pipeline: PipelineRecord, job_id: str) -> dict[str, str]:
    """The environment every datum of a job starts from (Pachyderm's worker variables)."""
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
    env["PATH"] = _path()
    env.update(pipeline.spec.transform.env)
    env.update({
        "PACH_JOB_ID": job_id,
        "PACH_OUTPUT_COMMIT_ID": job_id,
        "PPS_PIPELINE_NAME": pipeline.name,
        "PPS_PROJECT_NAME": pipeline.project,
        "PPS_SPEC_COMMIT": pipeline.spec_commit,
        "PPS_POD_NAME": f"{pipeline.project}-{pipeline.name}-v{pipeline.version}-local",
        "PPS_NAMESPACE": "pachmagic",
        "PPS_WORKER_IP": "127.0.0.1",
        "PEER_PORT": "1080",
    })
    return env
