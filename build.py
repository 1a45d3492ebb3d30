"""cffi build script for fdafast's C kernel layer (API mode).

The cdef is read from ``csrc/fdafast.h`` (the part between the cdef markers),
so the header stays the single source of the C API.

The kernel files (``KERNELS``) are compiled once per instruction-set variant
into the same extension, through the two-line wrappers in
``csrc/isa/<variant>/``: each wrapper names its variant and includes
``csrc/isa.h``, which turns the variant's instructions on for that file
(``#pragma GCC target``) and suffixes its symbols.  ``csrc/dispatch.c``
picks the variant the CPU supports at run time.  Every file gets the same
flags, so no file needs flags of its own and the build machine's CPU
decides nothing.

Environment variables
---------------------
FDAFAST_NATIVE=1
    Build one variant for the build machine's CPU (``-march=native``)
    instead of the portable set; the result may not run on other machines.
FDAFAST_SANITIZE=address
    Build with AddressSanitizer (and UBSan), ``-O1 -g``; run Python with
    ``LD_PRELOAD=$(gcc -print-file-name=libasan.so)``.
FDAFAST_OPENMP=0
    Build without OpenMP even where the compiler supports it.
"""
import os
import pathlib
import platform
import subprocess
import tempfile

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
CSRC = HERE / "csrc"
# compiled once
COMMON = ["common.c", "dispatch.c", "schedule.c"]
# compiled once per variant, through csrc/isa/<variant>/<file>
KERNELS = ["conv_f32.c", "conv_f64.c", "crossbar.c"]
# the portable variants per machine, lowest level first
VARIANTS = {"x86_64": ("baseline", "avx2", "avx512"), "aarch64": ("baseline", "neon")}
_MACHINES = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


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


def _native(env):
    return env.get("FDAFAST_NATIVE", "0") not in ("", "0")


def variants(env=None, machine=None):
    """The variants to compile: the portable set of ``machine`` (default: this
    one; other machines get the baseline alone), or ``("native",)`` with
    FDAFAST_NATIVE=1."""
    env = os.environ if env is None else env
    if _native(env):
        return ("native",)
    machine = _MACHINES.get((machine or platform.machine()).lower())
    return VARIANTS.get(machine, ("baseline",))


def sources(chosen):
    """C sources relative to the repository root: the common files, then each
    kernel file of each variant in ``chosen``."""
    return ([f"csrc/{name}" for name in COMMON]
            + [f"csrc/isa/{v}/{name}" for v in chosen for name in KERNELS])


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
    if _native(env):
        cflags += ["-march=native"]
    if env.get("FDAFAST_OPENMP", "1") not in ("0", ""):
        if openmp_ok is None:
            openmp_ok = _compiles(["-fopenmp"])
        if openmp_ok:
            cflags += ["-fopenmp"]
            ldflags += ["-fopenmp"]
    return cflags, ldflags


def define_macros(chosen, cflags):
    """Macros for every file: which variants exist (``FDA_HAVE_<VARIANT>``, or
    ``FDA_NATIVE``) and the flags, as a string that fda_isa_flags reports."""
    macros = [("FDA_NATIVE", "1") if v == "native" else (f"FDA_HAVE_{v.upper()}", "1")
              for v in chosen]
    shown = " ".join(f for f in cflags if not f.startswith("-W") and f != "-march=native")
    return macros + [("FDA_CFLAGS", f'"{shown}"')]


VARIANTS_BUILT = variants()
ffibuilder = FFI()
ffibuilder.cdef(read_cdef(CSRC / "fdafast.h"))
_cflags, _ldflags = compile_flags()
ffibuilder.set_source(
    "fdafast._fdafast_cffi",
    '#include "fdafast.h"',
    sources=sources(VARIANTS_BUILT),
    include_dirs=["csrc"],
    define_macros=define_macros(VARIANTS_BUILT, _cflags),
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
