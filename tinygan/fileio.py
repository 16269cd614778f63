"""Writing files all at once or not at all.

Every file tinygan writes (checkpoints, pictures, metrics, downloads) goes through ``write_atomically``:
the content is written to a temporary file in the same folder, flushed to disk, and renamed over the
target. A rename within one folder is atomic, so a reader (or a crash, or a NaN that stops training) sees
either the old file or the new one, never half of one.
"""
import os
import pathlib
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path, write):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then fsync it and rename it to ``path``.

    If ``write`` raises (a full disk, a failed checksum, Ctrl-C), the temporary file is removed and
    ``path`` is left as it was. The temporary file keeps ``path``'s suffix, so writers that choose a format
    by extension still work, and gets the permissions a normally created file would (mkstemp's are 0600).
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); harmless to skip where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
