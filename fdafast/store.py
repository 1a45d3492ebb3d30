"""A results store that cannot lie: rows in a CSV file, the run's identity, a lock.

A study that runs for hours (a design-space sweep, a data-set evaluation)
writes each result as it arrives and must survive interruption, resumption
and mistakes.  :class:`ResultStore` keeps, beside the CSV file ``NAME.csv``:

``NAME.csv``
    a header and one line per row; the last column, ``crc``, is the CRC-32 of
    the row's other fields, checked on every read.
``NAME.csv.identity.json``
    what the results are results *of* (model, mode, accelerator and its
    description's digest, input, seed, batch, parameter names...).  A resumed
    run with another identity is refused, naming what differs.
``NAME.csv.lock``
    held (an exclusive ``flock``) by the run writing to the store, and naming
    its pid and host.  A second run fails at once, clearly; a lock whose
    holder died is released by the operating system, so a killed run never
    blocks the next one.

Rows are appended one whole line at a time and flushed to disk; a line cut
by an interruption (no final newline) is dropped before the next append.
The store requires a POSIX system (``fcntl``).
"""
import csv
import fcntl
import io
import json
import os
import pathlib
import socket
import time
import zlib

from .errors import InvalidArgumentError

__all__ = ["ResultStore", "StoreError", "read_rows"]

#: The checksum column, last in every row.
CRC = "crc"


class StoreError(InvalidArgumentError):
    """A results store that cannot be opened, is held by another run, belongs to
    another study, or holds a corrupt line."""


def _crc(values):
    return format(zlib.crc32("\x1f".join(values).encode()), "08x")


def _line(fields, row):
    values = ["" if row.get(k) is None else str(row.get(k)) for k in fields]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values + [_crc(values)])
    return buf.getvalue()


def read_rows(path, parse=None):
    """The rows of the store's CSV ``path``, every checksum verified.

    A last line without its newline (an interrupted write) is ignored.
    ``parse(name, text)`` converts each value (default: kept as text).
    Raises :class:`StoreError` for a file that is not a store or holds a
    corrupt line, naming the line.
    """
    path = pathlib.Path(path)
    if not path.exists():
        return []
    if not path.is_file():
        raise StoreError(f"{str(path)!r} is not a file")
    try:
        with path.open(newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read {str(path)!r}: {exc}") from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]                                  # an interrupted write
    if not lines:
        return []
    reader = csv.reader(lines)
    header = next(reader)
    if not header or header[-1] != CRC:
        raise StoreError(f"{str(path)!r} is not a results store of this fdafast (its header "
                         f"has no {CRC!r} column); write to a new output")
    fields = header[:-1]
    rows = []
    for number, values in enumerate(reader, start=2):
        if len(values) != len(header) or _crc(values[:-1]) != values[-1]:
            raise StoreError(f"line {number} of {str(path)!r} is corrupt (its checksum or "
                             f"field count does not match); the store cannot be trusted")
        rows.append({k: (v if parse is None else parse(k, v))
                     for k, v in zip(fields, values[:-1])})
    return rows


class ResultStore:
    """Rows of one study in a CSV file, guarded by an identity and a lock.

    Parameters
    ----------
    path : path-like
        The CSV file.
    identity : dict
        JSON-serialisable description of the study.  ``identity['params']``,
        if present, is the list of parameter names: a resumed run may give
        them in another order (rows are matched by name) but not another set.
    fields : list of str
        The columns, in the order of a new file (a resumed file keeps its own).
    resume : bool
        False: the store must be new or empty.  True: an existing store of the
        same identity is continued.

    Use it as a context manager: the lock is held from ``__enter__`` to
    ``__exit__``.
    """

    def __init__(self, path, identity, fields, resume=False):
        self.path = pathlib.Path(path)
        self.identity = json.loads(json.dumps(identity))       # plain JSON values
        self.fields = [f for f in fields if f != CRC]
        self.resume = resume
        self._lock = None

    @property
    def identity_path(self):
        return self.path.with_name(self.path.name + ".identity.json")

    @property
    def lock_path(self):
        return self.path.with_name(self.path.name + ".lock")

    # -- opening -------------------------------------------------------------------
    def __enter__(self):
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{str(self.path)!r} is a directory, not a results file")
        self._acquire()
        try:
            self._check_identity()
            self._repair()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc):
        self._release()

    def _acquire(self):
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock {str(self.lock_path)!r}: "
                             f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreError(f"{str(self.path)!r} is being written by another run ({holder}); "
                             f"wait for it to finish or choose another output") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        self._lock = fd

    def _release(self):
        if self._lock is not None:
            os.ftruncate(self._lock, 0)
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None

    def _has_rows(self):
        """True when the file holds a header and at least one complete row."""
        if not self.path.exists():
            return False
        with self.path.open("rb") as fh:
            return fh.read().count(b"\n") >= 2

    def _check_identity(self):
        stored = None
        if self.identity_path.exists():
            try:
                stored = json.loads(self.identity_path.read_text())
            except (OSError, ValueError) as exc:
                raise StoreError(f"cannot read {str(self.identity_path)!r}: {exc}") from None
        if self._has_rows() and not self.resume:
            raise StoreError(f"{str(self.path)!r} already holds results; resume it (--resume) "
                             f"or choose another output")
        if self._has_rows() and stored is None:
            raise StoreError(f"{str(self.path)!r} has no identity file "
                             f"({self.identity_path.name}): it was not written by this "
                             f"fdafast; choose another output")
        if self._has_rows():
            diff = _differences(stored, self.identity)
            if diff:
                raise StoreError(f"{str(self.path)!r} holds results of another study; it "
                                 f"differs in {'; '.join(diff)}")
            header = next(csv.reader([self.path.open(newline="").readline()]), [])
            self.fields = header[:-1]
        else:
            _write_atomic(self.identity_path, json.dumps(self.identity, indent=1) + "\n")

    def _repair(self):
        """Drop a line cut by an interruption, and write the header of a new file."""
        if not self._has_rows():
            _write_atomic(self.path, ",".join(self.fields + [CRC]) + "\n")
            return
        with self.path.open("rb+") as fh:
            data = fh.read()
            if not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    # -- rows ------------------------------------------------------------------------
    def rows(self, parse=None):
        """The rows stored so far (see :func:`read_rows`)."""
        return read_rows(self.path, parse)

    def append(self, row):
        """Append one row (missing fields empty), flushed to disk before returning."""
        line = _line(self.fields, row).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def rewrite(self, rows):
        """Replace every row (e.g. to drop failed ones before they are tried again)."""
        _write_atomic(self.path, ",".join(self.fields + [CRC]) + "\n"
                      + "".join(_line(self.fields, r) for r in rows))


def _differences(stored, wanted):
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), wanted.get(key)
        if key == "params" and isinstance(a, list) and isinstance(b, list) \
                and sorted(a) == sorted(b):
            continue                                        # the same names, reordered
        if a != b:
            out.append(f"{key}: {b!r} now, {a!r} in the store")
    return out


def _write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
