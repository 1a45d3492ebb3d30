"""Planning of tiled FFT convolutions: output geometry and the tile choice.

Small pure functions returning plain values, each tested on its own.

Overlap-save along one axis
---------------------------
With a dilated kernel extent ``k`` (``dilation*(size-1)+1``) and an FFT tile
of ``T`` samples, one tile yields ``L = T - k + 1`` outputs of the stride-1
convolution without circular wrap-around.  A stride ``s`` output ``o`` is the
stride-1 output at position ``o*s``, so the tiles must cover
``need = (out-1)*s + 1`` stride-1 positions: ``ceil(need / L)`` tiles.
Strided convolutions are computed on the stride-1 grid and subsampled, which
costs up to ``s`` times the work of the strided output along that axis (the
tiles skip nothing); a polyphase split would avoid it and is left for later.
"""
import dataclasses
import itertools
import math

from .errors import TileError

#: FFT lengths the C codelets implement along one axis.
SUPPORTED_TILE_SIZES = (1, 2, 4, 8, 16, 32, 64)
#: Largest tile volume (the codelet scratch is sized for it).
MAX_TILE_VOLUME = 32768
#: Rows per block of the C GEMM micro-kernel (MRB in csrc/conv.inc).
GEMM_ROW_BLOCK = 4


def dilated_extent(size, dilation):
    """Extent ``dilation * (size - 1) + 1`` of a kernel of ``size`` taps."""
    return dilation * (size - 1) + 1


def output_size(n, kext, pad_lo, pad_hi, stride):
    """Output length of a strided correlation of ``n`` samples (torch's formula)."""
    return (n + pad_lo + pad_hi - kext) // stride + 1


def tiles_needed(out, stride, kext, tile):
    """Tiles along one axis so the stride-1 grid covers ``(out-1)*stride + 1`` samples."""
    valid = tile - kext + 1
    if valid < 1:
        raise TileError(f"tile {tile} is smaller than the kernel extent {kext}; "
                        f"use a tile of at least {kext}")
    need = (out - 1) * stride + 1
    return -(-need // valid)


def axis_label(axis, nd):
    """The user's name of internal axis ``axis`` (0..2 over (D, H, W)) for a ``nd``-D conv."""
    user = axis - (3 - nd)
    return f"axis {user} ({'DHW'[axis]})"


def check_tile(tile, kext, nd=3):
    """Validate a per-axis tile against the supported sizes and the kernel extents.

    ``tile`` and ``kext`` are 3-tuples ordered (D, H, W); ``nd`` (2 or 3)
    only changes how axes are named in messages.  Raises
    :class:`TileError` naming the bad value and what is accepted.
    """
    for axis, (t, k) in enumerate(zip(tile, kext)):
        if t not in SUPPORTED_TILE_SIZES or (axis == 2 and t < 2):
            sizes = SUPPORTED_TILE_SIZES[1:] if axis == 2 else SUPPORTED_TILE_SIZES
            raise TileError(f"tile size {t} along {axis_label(axis, nd)} is not supported; "
                            f"accepted sizes are {sizes}")
        if t < k:
            raise TileError(f"tile size {t} along {axis_label(axis, nd)} is smaller than "
                            f"the dilated kernel extent {k}; use a tile of at least {k}")
    vol = math.prod(tile)
    if vol > MAX_TILE_VOLUME:
        raise TileError(f"tile {tuple(tile)} has {vol} samples; at most "
                        f"{MAX_TILE_VOLUME} are supported")


@dataclasses.dataclass(frozen=True)
class CostParams:
    """Machine constants of the tile cost formula (per thread unless noted).

    The defaults were measured on the 2-core AVX-512 development machine;
    only their ratios matter for the choice.
    """

    mac_flops_per_s: float = 180e9      #: complex GEMM, 8 real flops per complex MAC
    fft_flops_per_s: float = 60e9       #: tile FFTs, nominal 2.5 n log2 n flops per real transform
    move_s_per_elem: float = 0.2e-9     #: pack/scatter per tile sample and channel
    bytes_per_s: float = 25e9           #: DRAM bandwidth, whole machine
    cached_bytes_per_s: float = 80e9    #: the same for weight spectra that fit the cache
    cache_bytes: float = 24 * 2 ** 20   #: weight spectra up to this size stay cached across calls
    bin_overhead_s: float = 0.6e-6     #: fixed cost of one bin's GEMM (packing, scheduling)
    max_weight_bytes: float = 2 ** 30   #: weight spectra larger than this are avoided
    gemm_flops_per_s: float = 100e9     #: numpy's BLAS, real float32 GEMM (float64: half)


#: The constants of each instruction-set variant of the C kernels
#: (:mod:`fdafast._dispatch`): avx512's were measured on the 2-core AVX-512
#: development machine, avx2's on a 2-core AMD EPYC (Zen 3) virtual machine
#: (the GEMM at ~23 GFMA/s per core, weight spectra streaming at 4-9 GB/s);
#: baseline's scale avx2's by the vector width (SSE2, no FMA) and neon's
#: are taken as avx2's (no timing under qemu).  ``gemm_flops_per_s`` (numpy's
#: BLAS, for :func:`direct_cost`): avx2's from OpenBLAS on the Zen 3 machine
#: (80 GFLOP/s on one thread, 100-130 on two: 60 per thread allows for
#: two GEMMs sharing it); avx512's is assumed (not measured: no AVX-512
#: machine since the spatial engine was added), baseline's scaled as above.
COST_PARAMS = {
    "avx512": CostParams(),
    "avx2": CostParams(mac_flops_per_s=60e9, fft_flops_per_s=20e9, move_s_per_elem=0.3e-9,
                       bytes_per_s=6.5e9, cached_bytes_per_s=40e9, gemm_flops_per_s=60e9),
    "baseline": CostParams(mac_flops_per_s=15e9, fft_flops_per_s=8e9, move_s_per_elem=0.4e-9,
                           bytes_per_s=6.5e9, cached_bytes_per_s=40e9, gemm_flops_per_s=15e9),
    "neon": CostParams(mac_flops_per_s=60e9, fft_flops_per_s=20e9, move_s_per_elem=0.3e-9,
                       bytes_per_s=6.5e9, cached_bytes_per_s=40e9, gemm_flops_per_s=60e9),
}


def cost_params(isa):
    """The :class:`CostParams` of instruction-set variant ``isa`` (avx512's for an
    unknown name)."""
    return COST_PARAMS.get(isa, CostParams())


def bins(tile):
    """Frequency bins of the Hermitian half spectrum of a real tile."""
    return tile[0] * tile[1] * (tile[2] // 2 + 1)


def tile_cost(tile, *, batch, cin, cout, groups, out, stride, kext, itemsize, lanes,
              threads=1, params=CostParams()):
    """Estimated seconds of one convolution with ``tile`` (all axes (D, H, W)).

    ``time = max(t_mac, t_mem) + t_fft`` where, with ``R`` rows (images x tiles)
    and ``B`` bins:

    * ``t_mac = 8 R' B (cin/groups) cout / (mac_rate threads)``: the per-bin
      complex GEMM, ``R'`` being ``R`` rounded up to the GEMM's blocks of
      ``GEMM_ROW_BLOCK`` rows (the kernel computes whole blocks), plus
      ``bin_overhead_s`` per bin and group;
    * ``t_fft = R (cin_p + cout_p) (2.5 V log2 V / fft_rate + V move) / threads``
      for tile volume ``V`` and channels padded to the SIMD lanes (the
      forward transforms every input channel, the inverse every output one);
    * ``t_mem = 2 B (cin/groups) cout itemsize / bw_w + 4 R B (cin_p + cout_p) itemsize / bw``:
      streaming the weight spectra once (from the cache, at ``bw_w =
      cached_bytes_per_s``, when they are smaller than ``cache_bytes`` and so
      stay cached between calls of a plan; else at ``bytes_per_s``),
      writing and reading the spectra of the tiles once.
    Border waste enters through ``R`` (the tiles past the end still cost).
    """
    ntiles = math.prod(tiles_needed(o, s, k, t) for o, s, k, t in zip(out, stride, kext, tile))
    rows = batch * ntiles
    nb = bins(tile)
    vol = math.prod(tile)
    cin_p = -(-cin // lanes) * lanes
    cout_p = -(-cout // lanes) * lanes
    rows_blocked = -(-rows // GEMM_ROW_BLOCK) * GEMM_ROW_BLOCK
    t_mac = (8.0 * rows_blocked * nb * (cin // groups) * cout / params.mac_flops_per_s
             + nb * groups * params.bin_overhead_s) / threads
    per_sample = 2.5 * math.log2(max(vol, 2)) / params.fft_flops_per_s + params.move_s_per_elem
    t_fft = rows * (cin_p + cout_p) * vol * per_sample / threads
    weight_bytes = 2.0 * nb * (cin // groups) * cout * itemsize
    bw_w = params.cached_bytes_per_s if weight_bytes <= params.cache_bytes else params.bytes_per_s
    t_mem = weight_bytes / bw_w + 4.0 * rows * nb * (cin_p + cout_p) * itemsize / params.bytes_per_s
    return max(t_mac, t_mem) + t_fft


def direct_cost(*, batch, cin, cout, groups, out, taps, itemsize, threads=1,
                params=CostParams()):
    """Estimated seconds of one convolution computed spatially (:mod:`fdafast.direct`).

    ``time = max(t_gemm, t_w) + t_gather`` with ``P`` outputs per image and
    channel (only the strided ones) and ``K = (cin/groups) taps``:

    * ``t_gemm = 2 N P K cout / (gemm_rate threads)``: the GEMMs, at numpy's
      BLAS rate (``gemm_flops_per_s`` for float32, half of it for float64);
    * ``t_w = K cout itemsize / bw``: streaming the weight matrix once (cached
      as in :func:`tile_cost`);
    * ``t_gather = N P cin taps move / threads``: gathering the columns.

    BLAS is not one of fdafast's instruction-set variants; the rate of the
    variant in use stands for the machine's.
    """
    positions = batch * math.prod(out)
    k = (cin // groups) * taps
    rate = params.gemm_flops_per_s * (4.0 / itemsize)
    t_gemm = 2.0 * positions * k * cout / (rate * threads)
    weight_bytes = float(k * cout * itemsize)
    bw_w = params.cached_bytes_per_s if weight_bytes <= params.cache_bytes else params.bytes_per_s
    t_gather = positions * cin * taps * params.move_s_per_elem / threads
    return max(t_gemm, weight_bytes / bw_w) + t_gather


def choose_algorithm(*, tile, batch, cin, cout, groups, out, stride, kext, taps, itemsize,
                     lanes, threads=1, params=CostParams()):
    """'fft' or 'direct': the float engine with the smaller estimate for ``tile``.

    :func:`tile_cost` of the chosen tile against :func:`direct_cost`; the
    FFT wins ties.  The spatial product wins where the tiles keep few valid
    outputs and the weight spectra outweigh the spatial weights, the FFT
    where the outputs are large enough for its arithmetic savings to count.
    """
    fft = tile_cost(tile, batch=batch, cin=cin, cout=cout, groups=groups, out=out,
                    stride=stride, kext=kext, itemsize=itemsize, lanes=lanes, threads=threads,
                    params=params)
    direct = direct_cost(batch=batch, cin=cin, cout=cout, groups=groups, out=out, taps=taps,
                         itemsize=itemsize, threads=threads, params=params)
    return "direct" if direct < fft else "fft"


def candidate_sizes(kext, span, axis):
    """Tile sizes worth trying along one axis.

    At least the kernel extent (and 2 along W, where the real FFT halves),
    and no larger than the first size whose single tile covers the whole
    ``span`` (a larger tile only adds zeros).
    """
    low = 2 if axis == 2 else 1
    out = []
    for t in SUPPORTED_TILE_SIZES:
        if t < max(kext, low):
            continue
        out.append(t)
        if t >= span:
            break
    return out


def choose_tile(*, batch, cin, cout, groups, out, stride, kext, itemsize, lanes, threads=1,
                params=CostParams(), nd=3):
    """The tile (D, H, W) with the least :func:`tile_cost`.

    Falls back to the candidate with the smallest weight spectra when every
    candidate exceeds ``params.max_weight_bytes``.  Raises :class:`TileError`
    when the kernel is wider than the largest supported tile.
    """
    spans = [(o - 1) * s + k for o, s, k in zip(out, stride, kext)]
    axes = [candidate_sizes(k, span, a) for a, (k, span) in enumerate(zip(kext, spans))]
    for a, cands in enumerate(axes):
        if not cands:
            raise TileError(f"the dilated kernel extent {kext[a]} along {axis_label(a, nd)} "
                            f"exceeds the largest supported tile {SUPPORTED_TILE_SIZES[-1]}")
    best, fallback = None, None
    for tile in itertools.product(*axes):
        if math.prod(tile) > MAX_TILE_VOLUME:
            continue
        wbytes = 2.0 * bins(tile) * (cin // groups) * cout * itemsize
        if fallback is None or wbytes < fallback[0]:
            fallback = (wbytes, tile)
        if wbytes > params.max_weight_bytes:
            continue
        cost = tile_cost(tile, batch=batch, cin=cin, cout=cout, groups=groups, out=out,
                         stride=stride, kext=kext, itemsize=itemsize, lanes=lanes,
                         threads=threads, params=params)
        if best is None or cost < best[0]:
            best = (cost, tile)
    if best is None:
        if fallback is None:
            raise TileError(f"no supported tile fits the kernel extents {tuple(kext)} within "
                            f"{MAX_TILE_VOLUME} samples")
        return tuple(fallback[1])
    return tuple(best[1])


def rows_per_chunk(*, rows, nbins, cin_p, cout_p, itemsize, threads, budget_bytes):
    """Rows (image, tile) whose spectra fit ``budget_bytes`` at once.

    The spectra of a row take ``2 nbins (cin_p + cout_p) itemsize`` bytes.
    At least ``threads`` rows (so each thread has work) and at most ``rows``.
    """
    per_row = 2 * nbins * (cin_p + cout_p) * itemsize
    fit = max(int(budget_bytes // per_row), threads, 1)
    return min(fit, rows)


def to3(values, fill):
    """A per-axis tuple of a 1D or 2D problem extended to (D, H, W) with leading ``fill``
    entries (a 2D convolution has depth 1, a 1D one depth and height 1)."""
    return (fill,) * (3 - len(values)) + tuple(values)


@dataclasses.dataclass(frozen=True)
class TileGeometry:
    """The overlap-save tiling of one convolution, per internal axis (D, H, W).

    What a :class:`fdafast.ConvPlan` hands its engine: channels, groups and,
    per axis, the input and output sizes, the dilated kernel extent, the
    dilation, stride, low zero padding and the FFT tile.  A 2D convolution has
    a depth of 1, a 1D one a depth and height of 1 (``nd`` says which the user
    asked for).
    """

    nd: int
    cin: int
    cout: int
    groups: int
    in3: tuple
    out3: tuple
    kext3: tuple
    dilation3: tuple
    stride3: tuple
    pad3: tuple
    tile3: tuple

    @property
    def valid3(self):
        """Valid outputs per tile and axis, ``T - k + 1``."""
        return tuple(t - k + 1 for t, k in zip(self.tile3, self.kext3))

    @property
    def ntiles3(self):
        """Tiles per axis covering the stride-1 grid of the outputs."""
        return tuple(tiles_needed(o, s, k, t) for o, s, k, t in
                     zip(self.out3, self.stride3, self.kext3, self.tile3))

    @property
    def padded3(self):
        """Extent of the zero-padded input the tiles read, per axis."""
        return tuple(n * v + k - 1 for n, v, k in zip(self.ntiles3, self.valid3, self.kext3))

    @property
    def nbins(self):
        """Bins of a tile's half spectrum."""
        return bins(self.tile3)

    @property
    def out_spatial(self):
        """The output's spatial shape as the user sees it (1, 2 or 3 axes)."""
        return self.out3[3 - self.nd:]

    @property
    def in_spatial(self):
        """The input's spatial shape as the user sees it (1, 2 or 3 axes)."""
        return self.in3[3 - self.nd:]
