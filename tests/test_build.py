"""Tests of the logic in ``build.py`` (the cffi build script at the repository root).

``build.py`` is imported with importlib from the repository root; importing
it builds the cffi ``ffibuilder`` (reading the real header) but compiles
nothing.
"""
import importlib.util
import pathlib

import pytest

pytest.importorskip("cffi")

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("fdafast_build_script", ROOT / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_read_cdef_returns_text_between_markers(build, tmp_path):
    header = tmp_path / "h.h"
    header.write_text("#ifndef H\n/* cdef-begin */\nint fda_f(int a);\n/* cdef-end */\n#endif\n")
    assert build.read_cdef(header) == "\nint fda_f(int a);\n"


def test_read_cdef_on_the_real_header(build):
    text = build.read_cdef(ROOT / "csrc" / "fdafast.h")
    assert "int fda_conv_f32(" in text and "fda_tile_irfft_f64" in text
    assert "typedef struct" in text
    assert "#ifndef" not in text and "#include" not in text
    assert "cdef-begin" not in text and "cdef-end" not in text


@pytest.mark.parametrize("content", [
    "int fda_f(void);\n",
    "/* cdef-begin */\nint fda_f(void);\n",
    "int fda_f(void);\n/* cdef-end */\n",
], ids=["no-markers", "no-end", "no-begin"])
def test_read_cdef_raises_without_markers(build, tmp_path, content):
    header = tmp_path / "bad.h"
    header.write_text(content)
    with pytest.raises(RuntimeError, match=r"bad\.h lacks the cdef-begin/cdef-end markers"):
        build.read_cdef(header)


@pytest.fixture
def no_probe(build, monkeypatch):
    """Fail if compile_flags probes the compiler although openmp_ok was given."""
    def probe(*args, **kwargs):
        raise AssertionError("the OpenMP compiler probe ran")
    monkeypatch.setattr(build, "_compiles", probe)


def test_default_flags(build, no_probe):
    """Portable by default: the build machine's CPU decides nothing."""
    cflags, ldflags = build.compile_flags({}, openmp_ok=True)
    assert not any(f.startswith(("-march", "-mtune", "-mavx", "-msse")) for f in cflags)
    assert "-O3" in cflags
    assert "-fopenmp" in cflags and "-fopenmp" in ldflags
    assert not any(f.startswith("-fsanitize") for f in cflags + ldflags)


@pytest.mark.parametrize("value, native", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_native_build_is_opt_in(build, no_probe, value, native):
    env = {"FDAFAST_NATIVE": value}
    cflags, _ = build.compile_flags(env, openmp_ok=False)
    assert ("-march=native" in cflags) is native
    assert (build.variants(env, "x86_64") == ("native",)) is native


@pytest.mark.parametrize("machine, expected", [
    ("x86_64", ("baseline", "avx2", "avx512")), ("AMD64", ("baseline", "avx2", "avx512")),
    ("aarch64", ("baseline", "neon")), ("arm64", ("baseline", "neon")),
    ("riscv64", ("baseline",)),
])
def test_variants_per_machine(build, machine, expected):
    assert build.variants({}, machine) == expected


def test_sources_compile_each_kernel_once_per_variant(build):
    srcs = build.sources(("baseline", "avx2"))
    assert srcs[:len(build.COMMON)] == [f"csrc/{c}" for c in build.COMMON]
    assert srcs[len(build.COMMON):] == [f"csrc/isa/{v}/{k}" for v in ("baseline", "avx2")
                                        for k in build.KERNELS]


@pytest.mark.parametrize("variant", ["baseline", "avx2", "avx512", "neon", "native"])
def test_every_variant_has_its_wrappers(build, variant):
    """Each wrapper names its variant, then includes isa.h and its kernel file."""
    for kernel in build.KERNELS:
        text = (ROOT / "csrc" / "isa" / variant / kernel).read_text()
        tag = "FDA_NATIVE_ISA" if variant == "native" else f"FDA_ISA_{variant.upper()}"
        assert f"#define FDA_VARIANT {tag}" in text
        assert text.index('#include "../../isa.h"') < text.index(f'#include "../../{kernel}"')


def test_sources_cover_every_c_file(build):
    """Nothing in csrc/ is left out of the build (kernel files via the wrappers)."""
    top = sorted(p.name for p in (ROOT / "csrc").glob("*.c"))
    assert top == sorted(build.COMMON + build.KERNELS)
    for machine, chosen in build.VARIANTS.items():
        for src in build.sources(chosen):
            assert (ROOT / src).is_file(), src


def test_define_macros_name_the_variants_and_flags(build):
    cflags = ["-std=gnu11", "-Wall", "-O3", "-fopenmp"]
    macros = dict(build.define_macros(("baseline", "avx2"), cflags))
    assert macros["FDA_HAVE_BASELINE"] == "1" and macros["FDA_HAVE_AVX2"] == "1"
    assert "FDA_HAVE_AVX512" not in macros and "FDA_NATIVE" not in macros
    assert macros["FDA_CFLAGS"] == '"-std=gnu11 -O3 -fopenmp"'
    native = dict(build.define_macros(("native",), cflags + ["-march=native"]))
    assert native["FDA_NATIVE"] == "1" and not any(k.startswith("FDA_HAVE") for k in native)
    assert "-march=native" not in native["FDA_CFLAGS"]   # dispatch.c adds it itself


def test_sanitizer_build(build, no_probe):
    cflags, ldflags = build.compile_flags({"FDAFAST_SANITIZE": "address"}, openmp_ok=False)
    for flags in (cflags, ldflags):
        san = [f for f in flags if f.startswith("-fsanitize=")]
        assert san and "address" in san[0].split("=", 1)[1].split(",")
    assert "-g" in cflags and "-O3" not in cflags
    assert "-fno-omit-frame-pointer" in cflags


def test_unknown_sanitizer_is_ignored(build, no_probe):
    cflags, ldflags = build.compile_flags({"FDAFAST_SANITIZE": "thread"}, openmp_ok=False)
    assert not any(f.startswith("-fsanitize") for f in cflags + ldflags)


@pytest.mark.parametrize("openmp_ok", [True, False])
def test_openmp_only_when_available(build, no_probe, openmp_ok):
    cflags, ldflags = build.compile_flags({}, openmp_ok=openmp_ok)
    assert ("-fopenmp" in cflags) is openmp_ok
    assert ("-fopenmp" in ldflags) is openmp_ok


def test_openmp_disabled_by_environment(build, no_probe):
    cflags, ldflags = build.compile_flags({"FDAFAST_OPENMP": "0"}, openmp_ok=True)
    assert "-fopenmp" not in cflags + ldflags


def test_openmp_probe_used_when_not_overridden(build, monkeypatch):
    seen = []
    monkeypatch.setattr(build, "_compiles", lambda flags, cc=None: seen.append(flags) or False)
    cflags, _ = build.compile_flags({})
    assert seen == [["-fopenmp"]]
    assert "-fopenmp" not in cflags


def test_compile_flags_reads_os_environ_by_default(build, no_probe, monkeypatch):
    monkeypatch.setenv("FDAFAST_NATIVE", "1")
    cflags, _ = build.compile_flags(openmp_ok=False)
    assert "-march=native" in cflags


def test_ffibuilder_is_configured(build):
    """A module-level cffi builder over the common files and every kernel variant."""
    import cffi
    assert isinstance(build.ffibuilder, cffi.FFI)
    assert build.VARIANTS_BUILT == build.variants()
