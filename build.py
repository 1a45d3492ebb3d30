"""cffi build script for fdafast's C kernel layer (API mode).

The cdef is read from ``csrc/fdafast.h`` (the part between the cdef markers),
so the header stays the single source of the C API.

Environment variables
---------------------
FDAFAST_PORTABLE=1
    Do not tune for the build machine's CPU (no ``-march=native``).
FDAFAST_SANITIZE=address
    Build with AddressSanitizer (and UBSan), ``-O1 -g``; run Python with
    ``LD_PRELOAD=$(gcc -print-file-name=libasan.so)``.
FDAFAST_OPENMP=0
    Build without OpenMP even where the compiler supports it.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
CSRC = HERE / "csrc"
SOURCES = ["common.c", "conv_f32.c", "conv_f64.c", "crossbar.c", "schedule.c"]


def read_cdef(header):
    """Return the declarations between ``/* cdef-begin */`` and ``/* cdef-end */``."""
    text = pathlib.Path(header).read_text()
    try:
        start = text.index("/* cdef-begin */") + len("/* cdef-begin */")
        end = text.index("/* cdef-end */")
    except ValueError:
        raise RuntimeError(f"{header} lacks the cdef-begin/cdef-end markers") from None
    return text[start:end]


def _compiles(flags, cc=None):
    """Whether the C compiler accepts ``flags`` for a tiny OpenMP program."""
    cc = cc or os.environ.get("CC", "cc")
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp, "t.c")
        path.write_text(src)
        try:
            res = subprocess.run([cc, *flags, str(path), "-o", str(path.with_suffix(""))],
                                 capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return res.returncode == 0


def compile_flags(env=None, openmp_ok=None):
    """Return ``(extra_compile_args, extra_link_args)`` chosen from ``env``.

    ``openmp_ok`` overrides the compiler probe (for tests).
    """
    env = os.environ if env is None else env
    cflags = ["-std=gnu11", "-ffp-contract=fast", "-fno-math-errno", "-Wall",
              "-Wno-unknown-pragmas", "-Wno-psabi"]
    ldflags = []
    if env.get("FDAFAST_SANITIZE", "") == "address":
        cflags += ["-O1", "-g", "-fno-omit-frame-pointer",
                   "-fsanitize=address,undefined"]
        ldflags += ["-fsanitize=address,undefined"]
    else:
        cflags += ["-O3"]
    if env.get("FDAFAST_PORTABLE", "0") in ("", "0") and sys.platform != "win32":
        cflags += ["-march=native"]
    if env.get("FDAFAST_OPENMP", "1") not in ("0", ""):
        if openmp_ok is None:
            openmp_ok = _compiles(["-fopenmp"])
        if openmp_ok:
            cflags += ["-fopenmp"]
            ldflags += ["-fopenmp"]
    return cflags, ldflags


ffibuilder = FFI()
ffibuilder.cdef(read_cdef(CSRC / "fdafast.h"))
_cflags, _ldflags = compile_flags()
ffibuilder.set_source(
    "fdafast._fdafast_cffi",
    '#include "fdafast.h"',
    sources=[os.path.relpath(CSRC / s, HERE) for s in SOURCES],
    include_dirs=[os.path.relpath(CSRC, HERE)],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
