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
    cflags, ldflags = build.compile_flags({}, openmp_ok=True)
    assert "-march=native" in cflags
    assert "-O3" in cflags
    assert "-fopenmp" in cflags and "-fopenmp" in ldflags
    assert not any(f.startswith("-fsanitize") for f in cflags + ldflags)


@pytest.mark.parametrize("value, native", [("1", False), ("yes", False), ("0", True), ("", True)])
def test_portable_build_drops_march_native(build, no_probe, value, native):
    cflags, _ = build.compile_flags({"FDAFAST_PORTABLE": value}, openmp_ok=False)
    assert ("-march=native" in cflags) is native


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
    monkeypatch.setenv("FDAFAST_PORTABLE", "1")
    cflags, _ = build.compile_flags(openmp_ok=False)
    assert "-march=native" not in cflags


def test_ffibuilder_is_configured(build):
    """A module-level cffi builder over every C source in csrc/."""
    import cffi
    assert isinstance(build.ffibuilder, cffi.FFI)
    assert sorted(build.SOURCES) == sorted(p.name for p in (ROOT / "csrc").glob("*.c"))
