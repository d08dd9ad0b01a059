"""``RepoBrowser``: projects → repos → branches/commits → files, with previews, download and history.

It opens on the repo most recently changed that has data (not the
alphabetically first, often an empty output repo). Selecting a directory
enters it; selecting a file previews it: images as images (whole, scaled to
fit), text and code as text, CSV/TSV and Parquet as a table of the first rows,
anything else (or too large) as size and hash. Directories with many entries
are shown a page at a time. The panel is laid out to fit half a screen: the
listing beside the preview when there is room, above it when not.

``Download`` (enabled once something is selected) prepares a browser download
of the selected file, or a zip of the directory shown, and shows a link
that saves it through the browser, with a line saying what is ready that
stays until the selection changes; nothing is written on the kernel's machine.
``History`` lists the recent commits of the branch that changed the selected
file.

What to show is decided by pure functions in ``logic/browse.py``, the preview
widget is built by ``_preview.py``; this module only wires widgets to the client. It never imports the server.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import ipywidgets as w

from pachmagic.client import Commit, File, FileInfo, Repo, is_commit_id
from pachmagic.errors import NotFound
from pachmagic.widgets._panel import Panel, replace_children
from pachmagic.widgets._preview import hint, preview_widget
from pachmagic.widgets.logic import browse
from pachmagic.widgets.logic.browse import HistoryRow
from pachmagic.widgets.logic.style import esc

__all__ = ["RepoBrowser"]


class RepoBrowser(Panel):
    """Browse a Pachyderm cluster's repos and files.

    Parameters
    ----------
    client:
        A ``pachmagic.client.Client``.
    page_size:
        Directory entries per page.
    history_depth:
        How many recent commits of the branch ``History`` looks at.
    max_download_bytes:
        The largest download prepared for the browser (it travels through the kernel's connection).
    refresh_interval:
        Seconds between background refreshes (None: only on demand).

    Attributes
    ----------
    download:
        ``(file name, bytes)`` of the last download prepared, or None.
    history:
        The rows the last ``History`` showed (``logic.browse.HistoryRow``).
    """

    def __init__(
        self,
        client: Any,
        *,
        page_size: int = 200,
        history_depth: int = 20,
        max_download_bytes: int = 64 * 1024 * 1024,
        refresh_interval: float | None = 2.0,
        **kwargs: Any,
    ) -> None:
        self._page_size = page_size
        self._history_depth = history_depth
        self._max_download = max_download_bytes
        self._listing: list[FileInfo] = []
        self._listed: tuple[str, str, str, str, str] | None = None  # project, repo, ref, dir, head id
        self._dir = "/"
        self._page = 0
        self._file: FileInfo | None = None
        self.download: tuple[str, bytes] | None = None
        self.history: list[HistoryRow] = []
        super().__init__(client, title="Repos", refresh_interval=refresh_interval, **kwargs)
        self.add_class("pachmagic-repo-browser")

    def _build(self) -> list[w.Widget]:
        def small() -> w.Layout:
            return w.Layout(width="auto", flex="0 0 auto")

        self._project = w.Dropdown(description="project", options=[], layout=w.Layout(width="auto", min_width="170px"))
        self._repo = w.Dropdown(description="repo", options=[], layout=w.Layout(width="auto", min_width="190px"))
        self._ref = w.Dropdown(description="ref", options=[], layout=w.Layout(width="auto", min_width="240px"))
        for picker in (self._project, self._repo, self._ref):
            picker.style.description_width = "initial"
        self._path = w.HTML("<code>/</code>")
        self._up_button = w.Button(description="Up", icon="arrow-up", layout=small(), tooltip="Parent directory")
        self._entries = w.Select(options=[], rows=12, layout=w.Layout(width="100%"))
        self._prev_button = w.Button(description="Prev", icon="chevron-left", layout=small(), disabled=True)
        self._next_button = w.Button(description="Next", icon="chevron-right", layout=small(), disabled=True)
        self._page_label = w.HTML("")
        self._preview = w.VBox([hint("Select a file to preview it.")], layout=w.Layout(width="100%"))
        self._download_button = w.Button(description="Download", icon="download", layout=small(), disabled=True,
                                         tooltip="Prepare the selection for your browser to save")
        self._history_button = w.Button(description="History", icon="history", layout=small(), disabled=True)
        self._download_link = w.HTML("")
        self._history = w.HTML("", layout=w.Layout(width="100%"))
        self._project.observe(self._on_project_change, names="value")
        self._repo.observe(self._on_repo_change, names="value")
        self._ref.observe(self._on_ref_change, names="value")
        self._entries.observe(self._on_entries_change, names="value")
        for button, handler in (
            (self._up_button, self._on_up_button_click),
            (self._prev_button, self._on_prev_button_click),
            (self._next_button, self._on_next_button_click),
            (self._download_button, self._on_download_button_click),
            (self._history_button, self._on_history_button_click),
        ):
            button.on_click(self._captured(handler))
        # Side by side when the panel is wide enough (flex-wrap), the listing above the preview when not.
        left = w.VBox(
            [w.HBox([self._up_button, self._path], layout=w.Layout(align_items="center")), self._entries,
             w.HBox([self._prev_button, self._page_label, self._next_button], layout=w.Layout(align_items="center"))],
            layout=w.Layout(flex="1 1 220px", min_width="200px", max_width="100%"),
        )
        right = w.VBox(
            [self._preview, w.HBox([self._download_button, self._history_button, self._download_link],
                                   layout=w.Layout(align_items="center", flex_flow="row wrap")), self._history],
            layout=w.Layout(flex="2 1 300px", min_width="260px", max_width="100%"),
        )
        pickers = w.HBox([self._project, self._repo, self._ref], layout=w.Layout(flex_flow="row wrap"))
        return [pickers, w.HBox([left, right], layout=w.Layout(flex_flow="row wrap", width="100%"))]

    # --- current selection ------------------------------------------------------------

    def _commit(self) -> Commit:
        repo = Repo(self._repo.value, project=self._project.value)
        ref = self._ref.value
        return Commit(repo, None, ref) if is_commit_id(ref) else Commit(repo, ref, None)

    def _file_ref(self, path: str) -> File:
        return File(self._commit(), path)

    @property
    def selection(self) -> dict[str, Any]:
        """Project, repo, ref, directory and selected file path (None when none)."""
        return {
            "project": self._project.value, "repo": self._repo.value, "ref": self._ref.value,
            "dir": self._dir, "file": self._file.path if self._file else None,
        }

    def show(self, project: str | None = None, repo: str | None = None, ref: str | None = None, path: str | None = None) -> None:
        """Select a project, repo, ref and directory or file (queued; see ``wait()``)."""

        def run() -> None:
            self._load_projects(project)
            self._load_repos(repo)
            self._load_refs(ref)
            target = path or "/"
            directory = target if target.endswith("/") else browse.parent_dir(target)
            self._file = None
            self._clear_selection_extras()
            self._load_dir(directory, force=True)
            if not target.endswith("/"):
                self._select_file(target)
            else:
                self._history_button.disabled = True
                replace_children(self._preview, [hint("Select a file to preview it.")])

        self._submit(run)

    # --- loading (worker thread) --------------------------------------------------------

    def _refresh_now(self) -> None:
        self._load_projects(self._project.value)
        self._load_repos(self._repo.value)
        self._load_refs(self._ref.value)
        self._load_dir(self._dir)

    def _load_projects(self, want: str | None) -> None:
        names = [p.name for p in self.client.pfs.list_project()]
        if list(self._project.options) != names:
            self._project.options = names
        chosen = want if want in names else (self.client.project if self.client.project in names else (names[0] if names else None))
        if self._project.value != chosen:
            self._project.value = chosen

    def _load_repos(self, want: str | None) -> None:
        project = self._project.value
        repos = list(self.client.pfs.list_repo(project=project)) if project else []
        names = [r.name for r in repos]
        if list(self._repo.options) != names:
            self._repo.options = names
        chosen = want if want in names else (self._latest_with_data(repos) if repos else None)
        if self._repo.value != chosen:
            self._repo.value = chosen

    def _latest_with_data(self, repos: list[Any]) -> str:
        """The repo whose master head changed last among those holding data (else the first)."""
        best: tuple[Any, str] | None = None
        for repo in repos[:50]:  # bounded: one RPC per repo
            try:
                head = self.client.pfs.inspect_commit(Commit(repo.repo, "master", None))
            except NotFound:  # no master: nothing put yet
                continue
            # pachd reports a repo's size once its head is finished and sized (real pachd
            # does that in the background): a head still being written counts as data.
            if not (repo.size_bytes or head.size_bytes or head.finished is None):
                continue
            when = head.finished or head.finishing or head.started
            if when is not None and (best is None or when > best[0]):
                best = (when, repo.name)
        return best[1] if best else str(repos[0].name)

    def _load_refs(self, want: str | None) -> None:
        repo = self._repo.value
        options: list[tuple[str, str]] = []
        if repo:
            ref = Repo(repo, project=self._project.value)
            branches = [b.name for b in self.client.pfs.list_branch(ref)]
            commits = list(self.client.pfs.list_commit(ref, number=10))
            options = browse.ref_options(sorted(branches, key=lambda b: (b != "master", b)), commits)
        if list(self._ref.options) != options:
            self._ref.options = options
        values = [v for _, v in options]
        chosen = want if want in values else (values[0] if values else None)
        if self._ref.value != chosen:
            self._ref.value = chosen

    def _load_dir(self, directory: str, *, force: bool = False) -> None:
        if not (self._repo.value and self._ref.value):
            self._listing, self._listed, self._dir = [], None, "/"
            self._show_page()
            self._set_status("no repos" if not self._repo.value else "empty repo: no commits yet")
            return
        try:
            head = self.client.pfs.inspect_commit(self._commit()).id
        except NotFound:
            head = ""
        key = (self._project.value, self._repo.value, self._ref.value, directory, head)
        if force or key != self._listed:
            try:
                listing = list(self.client.pfs.list_file(self._file_ref(directory))) if head else []
            except NotFound:
                listing, directory = [], "/"
            if directory != self._dir:
                self._page = 0
            self._listing, self._listed, self._dir = listing, key, directory
            self._show_page()
        where = f"{self._repo.value}@{self._ref.value}"
        self._set_status(f"{where} · {browse.count(len(self._listing), 'entry', 'entries')} in {self._dir}")

    def _show_page(self) -> None:
        bounds = browse.page(len(self._listing), self._page, self._page_size)
        self._page = bounds.number
        options = browse.entry_options(self._listing[bounds.start : bounds.stop], self._dir)
        self._entries.unobserve(self._on_entries_change, names="value")
        try:
            self._entries.options = options
            keep = self._file.path if self._file else None
            self._entries.value = keep if keep in [v for _, v in options] else None
        finally:
            self._entries.observe(self._on_entries_change, names="value")
        self._path.value = f"<code>{esc(self._dir)}</code>"
        self._page_label.value = f"<span style='font-size:12px'>{esc(bounds.label)}</span>"
        self._prev_button.disabled = bounds.number == 0
        self._next_button.disabled = bounds.number >= bounds.pages - 1
        self._up_button.disabled = self._dir == "/"
        target = self._file.path if self._file else (self._dir if self._dir != "/" else None)
        self._download_button.disabled = target is None or self._listed is None
        self._download_button.tooltip = (f"Prepare {target} for your browser to save" if target
                                         else "Select a file (or enter a directory) to download it")

    def _clear_selection_extras(self) -> None:
        """What belonged to the previous selection: its history and its prepared download."""
        self._history.value = ""
        self._download_link.value = ""
        self.download = None

    def _select_file(self, path: str) -> None:
        info = self.client.pfs.inspect_file(self._file_ref(path))
        self._file = info
        self._clear_selection_extras()
        self._download_button.disabled = False
        self._history_button.disabled = browse.is_dir(info)
        if browse.is_dir(info):
            replace_children(self._preview, [w.HTML(browse.summary_html(info, "directory: Download prepares a zip of it"))])
            return
        replace_children(self._preview, [w.HTML(browse.summary_html(info)), preview_widget(self.client, self._file_ref(info.path), info)])

    # --- handlers (kernel thread: queue work only) -------------------------------------

    def _user_change(self) -> bool:
        return not self._worker.in_worker()

    def _on_project_change(self, change: dict[str, Any]) -> None:
        if self._user_change():
            self._submit(self._project_chosen)

    def _on_repo_change(self, change: dict[str, Any]) -> None:
        if self._user_change():
            self._submit(self._repo_chosen)

    def _on_ref_change(self, change: dict[str, Any]) -> None:
        if self._user_change():
            self._submit(lambda: self._load_dir(self._dir))

    def _on_entries_change(self, change: dict[str, Any]) -> None:
        path = change["new"]
        if not path:
            return
        if path.endswith("/"):
            self._submit(lambda: self._enter(path))
        else:
            self._submit(lambda: self._select_file(path))

    def _project_chosen(self) -> None:
        self._load_repos(None)
        self._repo_chosen()

    def _repo_chosen(self) -> None:
        self._load_refs(None)
        self._enter("/")

    def _enter(self, directory: str) -> None:
        self._file = None
        self._history_button.disabled = True
        self._clear_selection_extras()
        self._load_dir(directory)

    def _on_up_button_click(self, _button: w.Button) -> None:
        self._submit(lambda: self._enter(browse.parent_dir(self._dir)))

    def _on_prev_button_click(self, _button: w.Button) -> None:
        self._page -= 1
        self._submit(self._show_page)

    def _on_next_button_click(self, _button: w.Button) -> None:
        self._page += 1
        self._submit(self._show_page)

    def _on_download_button_click(self, _button: w.Button) -> None:
        self._submit(self._download)

    def _on_history_button_click(self, _button: w.Button) -> None:
        self._submit(self._show_history)

    # --- actions (worker thread) ---------------------------------------------------------

    def _download(self) -> None:
        if not (self._repo.value and self._ref.value):
            return
        info = self._file
        if info is None and self._dir != "/":  # no file selected: the directory we are in
            info = self.client.pfs.inspect_file(self._file_ref(self._dir))
        if info is None:
            return
        selected = self._file
        if browse.is_dir(info):
            files = [f for f in self.client.pfs.walk_file(self._file_ref(info.path)) if not browse.is_dir(f)]
            total = sum(f.size_bytes for f in files)
            name = browse.zip_name(info.path)
        else:
            files, total, name = [info], info.size_bytes, browse.file_name(info.path)
        if total > self._max_download:
            self._download_link.value = browse.download_refused_html(name, total, self._max_download, self._commit(), info.path)
            return
        if browse.is_dir(info):
            data = browse.zip_files([(f.path, self.client.pfs.get_file(self._file_ref(f.path))) for f in files], root=info.path)
        else:
            data = self.client.pfs.get_file(self._file_ref(info.path))
        if self._file is not selected:  # the selection changed meanwhile
            return
        self.download = (name, data)
        self._download_link.value = browse.download_link_html(name, data)

    def _show_history(self) -> None:
        info = self._file
        if info is None:
            return
        commit = self._commit()
        commits = list(islice(self.client.pfs.list_commit(commit, number=self._history_depth), self._history_depth))
        versions = []
        for c in commits:
            try:
                versions.append((c, self.client.pfs.inspect_file(File(Commit(commit.repo, None, c.id), info.path))))
            except NotFound:
                versions.append((c, None))
        self.history = browse.file_history(versions)
        self._history.value = browse.history_html(info.path, self.history)

