"""For the Ray cluster test: each Ray worker refuses, and logs, any file access under the driver's store.

`guard` is the workers' setup hook (runtime_env worker_process_setup_hook): it installs an audit hook
(sys.addaudithook) that sees every open, mkdir, rename, remove, listing and chmod of the process, and raises
PermissionError for a path under $DIET_TEST_FORBIDDEN, after appending the event to $DIET_TEST_TOUCHED.
`try_to_write` is the control: a Ray task that tries to write there, to show the guard works.
"""

from __future__ import annotations

import os
import sys

FORBIDDEN = "DIET_TEST_FORBIDDEN"
TOUCHED = "DIET_TEST_TOUCHED"
EVENTS = {"open", "os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.listdir", "os.scandir",
          "os.chmod", "os.utime", "os.link", "os.symlink", "os.truncate", "os.chdir", "shutil.rmtree"}


def _path(arg) -> str | None:
    if isinstance(arg, (str, bytes, os.PathLike)):
        path = os.fsdecode(arg)
        return os.path.abspath(path)
    return None


def guard() -> None:
    """Install the audit hook in this worker process (nothing without $DIET_TEST_FORBIDDEN)."""
    root = os.environ.get(FORBIDDEN)
    if not root:
        return
    root, log = os.path.abspath(root), os.environ[TOUCHED]

    def hook(event, args):
        if event not in EVENTS:
            return
        for path in filter(None, map(_path, args[:2])):
            if path == root or path.startswith(root + os.sep):
                fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
                os.write(fd, f"{os.getpid()} {event} {path}\n".encode())
                os.close(fd)
                raise PermissionError(f"a Ray worker touched the driver's store: {event} {path}")

    sys.addaudithook(hook)


def try_to_write(folder: str) -> str:
    """Try to write a file in `folder`: "refused" when the guard stopped it."""
    try:
        with open(os.path.join(folder, "probe"), "w") as f:
            f.write("x")
    except PermissionError:
        return "refused"
    return "written"


def where() -> tuple[str, int, str]:
    """This worker's cwd, pid and data mirror."""
    return os.getcwd(), os.getpid(), os.environ.get("DIET_DATA_DIR", "")
