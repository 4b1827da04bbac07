"""Writing a file whole or not at all: readers (a running `modelyard up` reloading, an
editor) never see half of it, and a failed write leaves neither a torn file nor a temp one."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_whole(path: Path, text: str, replace: bool) -> None:
    """Write `text` to `path` through a temp file beside it. Without `replace`, an existing
    `path` is kept and FileExistsError raised: a hard link refuses to clobber, so a file that
    appears between any check and the write is not lost either."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    data = text.encode()
    try:
        # 0666 less the umask, as any file the user writes (tempfile would give 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
