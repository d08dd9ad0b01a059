"""``get|list|glob|inspect|diff|delete|copy file`` (``put file`` is in ``put.py``).

``get file`` without ``-o`` returns a ``FileContent`` (images display as
images, text and CSV as text, ``.data`` holds the bytes); with ``-o`` it
streams to a local file, and with ``-r`` it downloads a directory tree.
Downloads show a byte progress bar unless ``PachMagic.progress`` is off.
"""

from __future__ import annotations

import argparse
import posixpath
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
from IPython.core.error import UsageError

from pachmagic.client import File, FileDiff, FileInfo, to_frame
from pachmagic.magics import rows
from pachmagic.magics.content import FileContent
from pachmagic.magics.context import Context
from pachmagic.magics.display import Text
from pachmagic.magics.parser import Command, MagicParser
from pachmagic.magics.progress import ByteCounter
from pachmagic.rowdiff import RowDiff

__all__ = ["COMMANDS"]


def _file(uri: str) -> File:
    return File.from_uri(uri)


# --- get -----------------------------------------------------------------------


def _build_get(p: MagicParser) -> None:
    p.add_argument("file", metavar="REPO@REF:PATH", help="the file (or, with -r, directory) to get")
    p.add_argument("-o", "--output", metavar="LOCAL", help="write to this local path (a directory keeps the name)")
    p.add_argument("-r", "--recursive", action="store_true", help="download a whole directory into -o LOCAL")
    p.add_argument("--offset", type=int, default=0, help="start at this byte")


def get_file(ctx: Context, args: argparse.Namespace) -> FileContent | Text:
    client = ctx.client
    ref = _file(args.file)
    if args.recursive:
        if not args.output:
            raise UsageError("%pach get file: -r needs -o LOCAL (the directory to download into)")
        return _get_tree(ctx, ref, Path(args.output).expanduser())
    info = client.pfs.inspect_file(ref)
    if info.type == "dir":
        raise UsageError(f"%pach get file: {ref} is a directory: use -r -o LOCAL to download it")
    total = max(0, info.size_bytes - args.offset)
    if args.output is None:
        chunks = []
        with ctx.bar(total=total, unit="B", desc=posixpath.basename(info.path) or str(ref)) as bar:
            with client.pfs.open_file(ref, offset=args.offset) as handle:
                while chunk := handle.read(1024 * 1024):
                    chunks.append(chunk)
                    bar.update(len(chunk))
        return FileContent(str(ref), b"".join(chunks), preview_bytes=ctx.settings.file_preview_bytes)
    target = Path(args.output).expanduser()
    if target.is_dir():
        target = target / posixpath.basename(info.path)
    if args.offset:
        data = client.pfs.get_file(ref, offset=args.offset)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    else:
        with ctx.bar(total=total, unit="B", desc=target.name) as bar:
            client.pfs.get_file_to_path(ref, target, progress=ByteCounter(bar, 1))
    return Text(f"wrote {info.path} ({total} bytes) to {target}", path=target)


def _get_tree(ctx: Context, ref: File, output: Path) -> Text:
    client = ctx.client
    root = ref.path.rstrip("/") or "/"
    infos = [i for i in client.pfs.walk_file(ref) if i.type == "file"]
    total = sum(i.size_bytes for i in infos)
    with ctx.bar(total=total, unit="B", desc=f"{len(infos)} files") as bar:
        counter = ByteCounter(bar, len(infos))
        done = 0
        for n, info in enumerate(infos, 1):
            relative = posixpath.relpath(info.path, root) if info.path != root else posixpath.basename(info.path)
            target = output.joinpath(*relative.split("/"))
            base = done

            def progress(bytes_done: int, files: int, base: int = base, n: int = n) -> None:
                counter(base + bytes_done, n - 1 + files)

            client.pfs.get_file_to_path(File(ref.commit, info.path), target, progress=progress)
            done += info.size_bytes
    return Text(f"wrote {len(infos)} files ({total} bytes) to {output}", path=output, files=len(infos))


# --- listings --------------------------------------------------------------------


def _build_list(p: MagicParser) -> None:
    p.add_argument("file", metavar="REPO@REF[:PATH]", help="the directory to list (default /)")


def list_file(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    return ctx.frame(to_frame(ctx.client.pfs.list_file(_file(args.file)), kind=FileInfo))


def _build_glob(p: MagicParser) -> None:
    p.add_argument("pattern", metavar="REPO@REF:PATTERN", help="a glob such as photos@master:/*.png")


def glob_file(ctx: Context, args: argparse.Namespace) -> pd.DataFrame:
    ref = _file(args.pattern)
    return ctx.frame(to_frame(ctx.client.pfs.glob_file(ref.commit, ref.path), kind=FileInfo))


def _build_inspect(p: MagicParser) -> None:
    p.add_argument("file", metavar="REPO@REF:PATH", help="the file or directory")


def inspect_file(ctx: Context, args: argparse.Namespace) -> FileInfo:
    return ctx.client.pfs.inspect_file(_file(args.file))


def _build_diff(p: MagicParser) -> None:
    p.add_argument("new", metavar="NEW", help="REPO@REF[:PATH], the newer side")
    p.add_argument("old", metavar="OLD", nargs="?", help="REPO@REF[:PATH] (default: the parent commit)")
    p.add_argument("-s", "--shallow", action="store_true", help="do not descend into directories")
    p.add_argument("--name-only", action="store_true", help="only the op and name columns")
    rows.add_arguments(p)


def diff_file(ctx: Context, args: argparse.Namespace) -> pd.DataFrame | RowDiff:
    if rows.wants_rows(args):
        return rows.diff_file_rows(ctx, args)
    old = _file(args.old) if args.old else None
    diffs = ctx.client.pfs.diff_file(_file(args.new), old, shallow=args.shallow)
    frame = to_frame(diffs, kind=FileDiff)
    if args.name_only:
        frame = frame[["op", "name"]]
    return ctx.frame(frame)


# --- changes ----------------------------------------------------------------------


def _build_delete(p: MagicParser) -> None:
    p.add_argument("file", metavar="REPO@REF:PATH", help="the file to delete")
    p.add_argument("-r", "--recursive", action="store_true", help="delete a whole directory")


def delete_file(ctx: Context, args: argparse.Namespace) -> None:
    ref = _file(args.file)
    path = ref.path
    if args.recursive and not path.endswith("/"):
        path += "/"
    ctx.client.pfs.delete_file(ref.commit, path)
    ctx.session.forget()


def _build_copy(p: MagicParser) -> None:
    p.add_argument("src", metavar="SRC", help="REPO@REF:PATH to copy (a file or a directory)")
    p.add_argument("dst", metavar="DST", help="REPO@BRANCH:PATH to write")
    p.add_argument("-a", "--append", action="store_true", help="append instead of replacing")


def copy_file(ctx: Context, args: argparse.Namespace) -> None:
    ctx.client.pfs.copy_file(_file(args.src), _file(args.dst), append=args.append)
    ctx.session.forget()


COMMANDS = (
    Command(("get", "file"), "a file's content (displayed), or download it with -o / -r", get_file, _build_get,
            examples=("img = %pach get file photos@master:/hand.png", "%pach get file photos@master:/ -r -o photos")),
    Command(("list", "file"), "list a directory as a DataFrame", list_file, _build_list,
            examples=("%pach list file photos@master", "%pach list file photos@master^:/images")),
    Command(("glob", "file"), "the paths matching a glob pattern, as a DataFrame", glob_file, _build_glob),
    Command(("inspect", "file"), "a file's details", inspect_file, _build_inspect),
    Command(("diff", "file"), "what changed between two commits, as a DataFrame (--rows: row by row)", diff_file,
            _build_diff, examples=("%pach diff file photos@master", "%pach diff file sales@master sales@master^ --rows --key id")),
    Command(("delete", "file"), "delete a file (or a directory with -r)", delete_file, _build_delete),
    Command(("copy", "file"), "copy a file or directory between commits", copy_file, _build_copy),
)
