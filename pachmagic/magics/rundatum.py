"""``run datum``: run one datum of a pipeline here, in the notebook's environment, to debug it.

The datum is chosen by ``--datum ID`` (a prefix is enough) or ``--files PATH
...`` among the datums of the pipeline's input at the current branch heads
(the IDs ``list datum`` shows), or is the only one. Its input files are
downloaded into a scratch directory laid out as ``<dir>/pfs/<input>/<path>``
with an empty ``<dir>/pfs/out``; then the transform runs as a local process
through ``pachmagic sandbox-run``, which gives it real ``/pfs/<input>`` and
``/pfs/out`` paths exactly as a pipeline worker sees them (a private
user+mount namespace on Linux). Where the OS refuses namespaces, the sandbox
substitutes ``/pfs`` in the command, stdin and environment and says so.
``python``/``python3`` resolve to the kernel's own interpreter first.
Pachyderm's variables are set (``PACH_DATUM_ID``, ``PACH_JOB_ID``,
``<input>``, ``PPS_PIPELINE_NAME``...). The scratch directory is kept for
inspection.
"""

from __future__ import annotations

import argparse
import html
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.client import File
from pachmagic.magics.context import Context
from pachmagic.magics.parser import Command, MagicParser
from pachmagic.magics.preview import DatumFile, normalise_input, plan_datums
from pachmagic.pachyderm.paths import input_path

__all__ = ["COMMANDS", "DatumRun"]


class DatumRun:
    """The outcome of ``run datum``: exit code, output, and the files written to ``/pfs/out``.

    Attributes
    ----------
    returncode, stdout, stderr:
        Of the transform's process.
    datum_id:
        The datum that ran.
    pfs:
        The scratch ``/pfs`` (inputs under ``pfs/<input>``, outputs under ``pfs/out``).
    outputs:
        DataFrame of the files in ``pfs/out`` (``path``, ``size``).
    """

    def __init__(self, *, pipeline: str, datum_id: str, command: list[str], returncode: int, stdout: str,
                 stderr: str, pfs: Path) -> None:
        self.pipeline = pipeline
        self.datum_id = datum_id
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.pfs = pfs
        out = pfs / "out"
        files = sorted(p for p in out.rglob("*") if p.is_file())
        self.outputs = pd.DataFrame(
            {"path": pd.Series(["/" + p.relative_to(out).as_posix() for p in files], dtype="str"),
             "size": pd.Series([p.stat().st_size for p in files], dtype="int64")}
        )

    @property
    def ok(self) -> bool:
        """Whether the transform exited with 0."""
        return self.returncode == 0

    @property
    def out(self) -> Path:
        """The local directory that stood in for ``/pfs/out``."""
        return self.pfs / "out"

    def _head(self) -> str:
        status = "succeeded" if self.ok else f"failed (exit code {self.returncode})"
        return (f"datum {self.datum_id[:12]} of {self.pipeline} {status}; {len(self.outputs)} output files in "
                f"{self.out}\n(/pfs/<input> and /pfs/out were mapped to {self.pfs})")

    def __repr__(self) -> str:
        parts = [self._head()]
        if self.stdout:
            parts.append("--- stdout ---\n" + self.stdout.rstrip())
        if self.stderr:
            parts.append("--- stderr ---\n" + self.stderr.rstrip())
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<details{' open' if text else ''}><summary>{name}</summary><pre>{html.escape(text)}</pre></details>"
            for name, text in (("stdout", self.stdout), ("stderr", self.stderr))
        )
        return f"<pre>{html.escape(self._head())}</pre>{body}{self.outputs.to_html(index=False)}"


def _choose(datums: list[tuple[str, tuple[DatumFile, ...]]], args: argparse.Namespace) -> tuple[str, tuple[DatumFile, ...]]:
    if args.datum:
        found = [d for d in datums if d[0].startswith(args.datum)]
        if len(found) != 1:
            what = "no datum" if not found else f"{len(found)} datums"
            raise UsageError(f"%pach run datum: {what} of {args.pipeline} with an id starting {args.datum!r} "
                             "at the current heads (see %pach preview datums --pipeline ...)")
        return found[0]
    if args.files:
        wanted = [f.rpartition(":")[2] or f for f in args.files]
        found = [d for d in datums if all(any(x.path == w or x.path == "/" + w.lstrip("/") for x in d[1]) for w in wanted)]
        if not found:
            raise UsageError(f"%pach run datum: no datum of {args.pipeline} has the files {', '.join(args.files)}")
        return found[0]
    if len(datums) != 1:
        raise UsageError(f"%pach run datum: {args.pipeline} has {len(datums)} datums at the current heads; "
                         "choose one with --datum ID or --files PATH (see %pach preview datums --pipeline ...)")
    return datums[0]


def _download(ctx: Context, files: tuple[DatumFile, ...], pfs: Path) -> None:
    client = ctx.client
    for item in files:
        commit = f"{item.project}/{item.repo}@{item.branch}"
        root = pfs / item.name
        infos = client.pfs.walk_file(File.from_uri(f"{commit}:{item.path}")) if item.type == "dir" else [
            client.pfs.inspect_file(File.from_uri(f"{commit}:{item.path}"))]
        for info in infos:
            if info.type != "file":
                continue
            client.pfs.get_file_to_path(File.from_uri(f"{commit}:{info.path}"), root / info.path.lstrip("/"))
        root.mkdir(parents=True, exist_ok=True)


def _build(p: MagicParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline whose transform to run")
    p.add_argument("--datum", metavar="ID", help="the datum (its id, or a prefix)")
    p.add_argument("--files", nargs="+", metavar="PATH", help="choose the datum that has these input paths")
    p.add_argument("-o", "--output", metavar="DIR", help="scratch directory (default: a new temporary one)")
    p.add_argument("--job", metavar="ID", default="", help="the job id to put in PACH_JOB_ID")


def run_datum(ctx: Context, args: argparse.Namespace) -> DatumRun:
    client = ctx.client
    info = client.pps.inspect_pipeline(args.pipeline)
    spec = info.spec
    node = normalise_input(spec)
    datum_id, files = _choose(plan_datums(client, node), args)
    base = Path(args.output).expanduser() if args.output else Path(tempfile.mkdtemp(prefix=f"pach-{info.name}-"))
    pfs = (base / "pfs").resolve()
    (pfs / "out").mkdir(parents=True, exist_ok=True)
    _download(ctx, files, pfs)
    transform: dict[str, Any] = spec.get("transform") or {}
    cmd = [str(a) for a in transform.get("cmd") or []]
    if not cmd:
        raise UsageError(f"%pach run datum: {info.name} has no transform.cmd")
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", os.defpath)
    env.update({k: str(v) for k, v in (transform.get("env") or {}).items()})
    env.update({
        "PACH_DATUM_ID": datum_id, "PACH_JOB_ID": args.job, "PACH_OUTPUT_COMMIT_ID": args.job,
        "PPS_PIPELINE_NAME": info.name, "PPS_PROJECT_NAME": info.project,
    })
    for item in files:
        env[item.name] = input_path(item.name, item.path)
    cwd = transform.get("working_dir") or transform.get("workingDir") or ctx.settings.workdir or os.getcwd()
    runner = [sys.executable, "-m", "pachmagic", "sandbox-run", "--cwd", str(cwd)]
    for name in sorted({item.name for item in files}):
        runner += ["--mount", f"{name}={pfs / name}"]
    runner += ["--mount", f"out={pfs / 'out'}"]
    stdin_lines = transform.get("stdin") or []
    if stdin_lines:
        stdin_file = base / "stdin.txt"
        stdin_file.write_text("\n".join(stdin_lines) + "\n")
        runner += ["--stdin-file", str(stdin_file)]
    proc = subprocess.run([*runner, "--", *cmd], capture_output=True, text=True, env=env, check=False)
    return DatumRun(pipeline=info.name, datum_id=datum_id, command=cmd, returncode=proc.returncode,
                    stdout=proc.stdout, stderr=proc.stderr, pfs=pfs)


COMMANDS = (
    Command(("run", "datum"), "run one datum of a pipeline here, with its inputs under a local /pfs",
            run_datum, _build, examples=("r = %pach run datum contour --files /hand.png", "r.outputs")),
)
