"""Atomic file writes: a reader sees the old file or the new one, never a partial one."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`.

    Works for files and folders (a folder replaces the previous one as a whole).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)  # a killed writer's partial copy (an export may be GBs)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{_owner()}.", suffix=TMP_SUFFIX, dir=path.parent))
    except OSError as e:  # read-only or full: name the file being written, not the temporary
        raise OSError(e.errno, e.strerror, str(path)) from None
    target = tmp / path.name
    try:
        yield target
        if target.is_file():
            with open(target, "rb") as f:
                os.fsync(f.fileno())
        if path.is_dir() and not path.is_symlink():
            if not _exchange(target, path):  # the old folder is now at `target`, removed with `tmp` below
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)  # no atomic swap here: the folder is missing until the next line
                os.replace(target, path)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, path)
        _fsync_dir(path.parent)
    except OSError as e:
        if e.errno is not None and e.filename is None:  # a failed write (disk full) names no file
            e.filename = str(path)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not supported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None) if sys.platform == "linux" else None
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(folder: str | os.PathLike, name: str = "") -> int:
    """Delete temporaries left in `folder` by writers that died (killed mid-write), only those of file `name`
    when given; return how many. A temporary names its writer as host_pid, so one written by another
    machine on a shared disk is left alone."""
    removed = 0
    for tmp in Path(folder).glob(f".{glob.escape(name)}.*{TMP_SUFFIX}" if name else f".*{TMP_SUFFIX}"):
        owner = tmp.name.rsplit(".", 3)[-3] if tmp.name.count(".") >= 3 else ""
        host, _, pid = owner.rpartition("_")
        if pid.isdigit() and host in ("", _host()) and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed


def _host() -> str:
    """This machine's name, safe inside a temporary's name (no dots)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _owner() -> str:
    return f"{_host()}_{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
