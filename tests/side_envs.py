"""Build the official clients' own virtualenvs ahead of the tests that use them.

``python -m tests.side_envs`` (``.ci/run`` starts it in the background as soon as
the test environment is installed): python-pachyderm 7.6 (``official_clients/pp_env.py``)
and jupyterlab-pachyderm (``jupyterlab/official_env.py``). Each is built under its
own file lock, so a test that needs one meanwhile waits for it rather than building
it again; both are mostly download, which overlaps the first tests' CPU work.
A failure is printed and left to the tests, which try again and fail with pip's
output; this script never decides a test's outcome.
"""

from __future__ import annotations

import time

from tests.jupyterlab import official_env
from tests.official_clients import pp_env


def main() -> int:
    for name, build, error in (
        ("python-pachyderm", pp_env.python_pachyderm_python, pp_env.EnvError),
        ("jupyterlab-pachyderm", official_env.official_panel_python, official_env.EnvError),
    ):
        started = time.monotonic()
        try:
            build()
        except error as err:
            print(f"side environment {name}: failed (the tests will try again)\n{err}", flush=True)
            continue
        print(f"side environment {name}: ready in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
