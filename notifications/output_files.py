"""Writing the files an operator asks for (``report --out``, ``ledger --out``) so that a target is either the
complete new file or left as it was: each file is written to a temporary file in the same folder and renamed over
the target, and a symbolic link planted at the target is refused, never followed. A folder that cannot hold the
files (a file in the way, a read-only place, a full disk) is said in one sentence instead of a traceback."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from hazardloop.models.core.errors import HazardloopError, InvalidInput, Problem


class OutputError(HazardloopError):
    """The files could not be written for a reason that is not the operator's choice of place (a full disk)."""


def _refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput([Problem(message, field=field)])


def _os_problem(exc: OSError, where: Path, field: str) -> HazardloopError:
    """An operating system's refusal in an operator's words: exit 2 for a place that cannot be written, 1 else."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"cannot write {where}: the disk is full; nothing was written there. Free some space.")
    reason = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "it is on a read-only file system",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "it is a folder",
        errno.ENAMETOOLONG: "the name is too long",
        errno.ELOOP: "the path goes through too many symbolic links",
    }.get(exc.errno or 0)
    if reason is None:
        return OutputError(f"cannot write {where}: {exc.strerror or exc}; nothing was written there.")
    return _refuse(f"cannot write {where}: {reason}", field)


def prepare_folder(folder: Path, field: str = "--out") -> None:
    """Make sure ``folder`` is (or can become) a folder this process can write in, before any work is done."""
    if folder.exists() and not folder.is_dir():
        raise _refuse(f"{folder} is a file, not a folder; name a folder for the files", field)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".hazardloop-probe-")
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:  # a file stands where a folder of the path should be
        raise _refuse(f"cannot create the folder {folder}: a part of the path is a file", field) from None
    except OSError as exc:
        raise _os_problem(exc, folder, field) from None


def check_target(path: Path, field: str = "--out") -> None:
    """Refuse a target that is a symbolic link (it could point anywhere) or a folder."""
    if path.is_symlink():
        raise _refuse(
            f"{path} is a symbolic link; hazardloop does not write through links (remove it or choose another name)",
            field,
        )
    if path.is_dir():
        raise _refuse(f"{path} is a folder; name a file to write", field)


def write_files(folder: Path, files: Mapping[str, bytes], field: str = "--out") -> list[Path]:
    """Write each ``name: content`` into ``folder``. Every file is first written in full beside its target, then
    all are renamed into place; if any cannot be
    written, none of the targets changes."""
    prepare_folder(folder, field)
    targets = [folder / name for name in files]
    for target in targets:
        check_target(target, field)
    written: list[tuple[str, Path]] = []
    try:
        for name, content in files.items():
            written.append((_write_temporary(folder, name, content), folder / name))
    except OSError as exc:
        _discard(written)
        raise _os_problem(exc, folder, field) from None
    except BaseException:
        _discard(written)
        raise
    try:
        for temporary, target in written:
            os.replace(temporary, target)  # replaces a link planted since the check, never writes through it
    except OSError as exc:
        _discard(written)
        raise _os_problem(exc, folder, field) from None
    return targets


def write_file(path: Path, content: bytes, field: str = "--out") -> Path:
    return write_files(path.parent, {path.name: content}, field)[0]


def _write_temporary(folder: Path, name: str, content: bytes) -> str:
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # as an ordinary new file would be (mkstemp makes it private)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _discard(written: list[tuple[str, Path]]) -> None:
    for temporary, _target in written:
        Path(temporary).unlink(missing_ok=True)
