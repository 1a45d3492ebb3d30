"""Slow, loop-level reference of the crossbar emulation (``fdafast.crossbar``).

Everything here follows the contract (the crossbar semantics document) word
for word, with Python loops and Python numbers, so that a reader can hold
each line against a sentence of it:

* the digital accumulation uses Python ints (exact, unbounded);
* each bit-line sum ``S`` is a Python float (IEEE float64) built row by row
  in the physical order of the block, one multiply then one add per row
  (Python never fuses them);
* the random numbers come from :func:`fdafast._rng.uniform` and
  :func:`fdafast._rng.normal`, called once per cell or per conversion with a
  one-element ``uint64`` index array.

Nothing is taken from the fast code's derived properties: slices, chunks,
``s_max`` and the ADC step are recomputed here from the raw config fields
(:class:`Geometry`), and the tests compare the fast code's properties with
them.

Functions
---------
cmatmul_reference(x, w, config, seed=None) -> (y, counts)
    The emulated complex matrix product and the events counted while
    emulating it.
counts_reference(M, K, N, config) -> dict
    The events of an ``(M, K) @ (K, N)`` product, counted by a separate set
    of loops that walk the same schedule without touching data.
offset_correction(x, config) -> (D_re, D_im)
    The exact integer offset correction per row of ``x`` (0 for the
    differential encoding).
Geometry(config)
    The derived quantities, written out from the contract.
"""
import math

import numpy as np

#: The field names of ``CrossbarCounts``, in the contract's order.
COUNT_FIELDS = ("crossbars", "reads", "adc_conversions", "dac_drives", "shift_adds", "cells")

# Random streams of the contract.
STREAM_PROGRAM, STREAM_STUCK, STREAM_READ = 1, 2, 3


def _name(value):
    """The string of a choice given as a string or as an Enum member."""
    return getattr(value, "value", value)


def _ceil_div(a, b):
    return -(-a // b)


class Geometry:
    """Derived quantities of a crossbar config, computed from its raw fields.

    Attributes follow the contract's notation: ``R`` rows, ``ib``, ``wb``,
    ``cb``, ``db``, ``ab`` bit widths, ``Lmax = 2**cb - 1``, ``sets``,
    ``ns`` (slices), ``cpb`` (channels per block), ``nmag`` magnitude chunks
    and ``chunks = nmag + 1``, ``s_max``, ``fs`` and ``step`` (float64).
    """

    def __init__(self, config):
        c = config
        self.R, self.cols = int(c.rows), int(c.cols)
        self.cb, self.wb, self.ib = int(c.cell_bits), int(c.weight_bits), int(c.input_bits)
        self.db, self.ab = int(c.dac_bits), int(c.adc_bits)
        self.rowpair = _name(c.pe) == "rowpair"
        assert self.rowpair or _name(c.pe) == "colpair", c.pe
        self.differential = _name(c.weight_encoding) == "differential"
        assert self.differential or _name(c.weight_encoding) == "offset", c.weight_encoding
        self.Lmax = 2 ** self.cb - 1
        self.sets = 2 if self.differential else 1
        # differential: magnitudes need wb - 1 bits; offset: a in [1, 2**wb - 1] needs wb bits
        self.ns = _ceil_div(self.wb - 1 if self.differential else self.wb, self.cb)
        self.cpb = self.R // 2 if self.rowpair else self.R
        self.nmag = _ceil_div(self.ib - 1, self.db)
        self.chunks = self.nmag + 1
        self.s_max = self.R * (2 ** self.db - 1) * self.Lmax
        afs = c.adc_full_scale
        self.fs = self.s_max if afs is None else afs
        self.step = max(1.0, self.fs / (2 ** self.ab - 1))
        self.code_max = 2 ** self.ab - 1
        self.off = 2 ** (self.wb - 1)
        self.program_sigma = float(c.program_sigma)
        self.read_sigma = float(c.read_sigma)
        self.stuck_on_rate = float(c.stuck_on_rate)
        self.stuck_off_rate = float(c.stuck_off_rate)
        self.on_off_ratio = c.on_off_ratio
        self.ideal_devices = (self.program_sigma == 0 and self.read_sigma == 0
                              and self.stuck_on_rate == 0 and self.stuck_off_rate == 0
                              and self.on_off_ratio is None)
        self.exact = self.ideal_devices and self.s_max <= 2 ** self.ab - 1

    # -- schedule ----------------------------------------------------------
    def nblocks(self, K):
        return _ceil_div(K, self.cpb)

    def block_channels(self, K, b):
        """The channels ``k`` of row block ``b``."""
        return range(b * self.cpb, min(K, (b + 1) * self.cpb))

    def ncols_logical(self, N):
        return (1 if self.rowpair else 2) * self.sets * self.ns * N

    def ncolgroups(self, N):
        return _ceil_div(self.ncols_logical(N), self.cols)

    def block_rows(self, K, b):
        """The physical rows of block ``b`` in summation order, as ``(k, part)``.

        ``part`` is 0 for the row holding Re w_k, 1 for Im w_k; in the
        column-pair mapping the row's part is the column's (``None`` here).
        """
        rows = []
        for k in self.block_channels(K, b):
            if self.rowpair:
                rows.append((k, 0))   # row 2k'
                rows.append((k, 1))   # row 2k'+1
            else:
                rows.append((k, None))  # row k'
        return rows

    def column(self, j, N):
        """Column id ``j`` as ``(part, set, s, n)``; ``part`` is None for rowpair."""
        n, rest = j % N, j // N
        s, rest = rest % self.ns, rest // self.ns
        if self.rowpair:
            return None, rest, s, n
        st, part = rest % self.sets, rest // self.sets
        return part, st, s, n

    # -- inputs ------------------------------------------------------------
    def row_input(self, x_mk, q, part):
        """The integer driven on a row in cycle ``q`` (``part`` as in block_rows)."""
        re, im = int(x_mk.real), int(x_mk.imag)
        if self.rowpair:
            if q == 0:
                return re if part == 0 else -im
            return im if part == 0 else re
        return re if q == 0 else im

    def chunk_value(self, a, c):
        """DAC value ``u`` of chunk ``c`` of the integer ``a`` (two's complement, ib bits)."""
        t = a % 2 ** self.ib
        if c < self.nmag:
            lo = c * self.db
            width = min((c + 1) * self.db, self.ib - 1) - lo
            return (t >> lo) & (2 ** width - 1)
        assert c == self.nmag
        return (t >> (self.ib - 1)) & 1

    def chunk_sig(self, c):
        return 2 ** (c * self.db) if c < self.nmag else -2 ** (self.ib - 1)

    # -- weights -----------------------------------------------------------
    def level(self, v, st, s):
        """Ideal level: slice ``s`` of set ``st`` of the real weight value ``v``."""
        if self.differential:
            a = max(v, 0) if st == 0 else max(-v, 0)
        else:
            a = v + self.off
        return (a >> (s * self.cb)) & self.Lmax

    def set_sign(self, st):
        return 1 if st == 0 else -1

    def cell_id(self, part, st, s, k, n, K, N):
        return (((part * self.sets + st) * self.ns + s) * K + k) * N + n


def _draw(fn, seed, stream, index):
    """One draw of ``fn(seed, stream, index)`` as a Python float."""
    out = fn(seed, stream, np.array([index], dtype=np.uint64))
    out = np.asarray(out)
    assert out.dtype == np.float64 and out.shape == (1,), (out.dtype, out.shape)
    return float(out[0])


def conductance(g, L, cell_id, seed):
    """Effective conductance G of a cell with ideal level ``L`` (contract, Devices 1-3)."""
    if g.ideal_devices:
        return float(L)
    from fdafast import _rng  # lazily: the reference is importable without it
    if g.stuck_off_rate != 0 or g.stuck_on_rate != 0:
        u1 = _draw(_rng.uniform, seed, STREAM_STUCK, cell_id)
        if u1 < g.stuck_off_rate:
            L = 0
        elif u1 < g.stuck_off_rate + g.stuck_on_rate:
            L = g.Lmax
    g_off = 0.0 if g.on_off_ratio is None else g.Lmax / g.on_off_ratio
    G = g_off + L * (g.Lmax - g_off) / g.Lmax
    if g.program_sigma != 0:
        G = G * (1 + g.program_sigma * _draw(_rng.normal, seed, STREAM_PROGRAM, cell_id))
        G = max(G, 0.0)
    return G


def offset_correction(x, config):
    """``(D_re, D_im)`` lists of exact ints, one per row of ``x`` (zeros for differential)."""
    g = Geometry(config)
    x = np.asarray(x)
    M, K = x.shape
    D = []
    for m in range(M):
        if g.differential:
            D.append((0, 0))
            continue
        sre = sum(int(x[m, k].real) for k in range(K))
        sim = sum(int(x[m, k].imag) for k in range(K))
        if g.rowpair:
            D.append((-g.off * (sre - sim), -g.off * (sim + sre)))
        else:
            D.append((-g.off * sre + g.off * sim, -g.off * sre - g.off * sim))
    return D


def _check_operand(a, bits, name):
    a = np.asarray(a)
    assert a.ndim == 2, (name, a.shape)
    lim = 2 ** (bits - 1) - 1
    for v in a.ravel():
        v = complex(v)
        for part in (v.real, v.imag):
            assert part == int(part) and -lim <= part <= lim, (name, v, lim)
    return a


def cmatmul_reference(x, w, config, seed=None, read_seed=None):
    """The crossbar emulation of ``x @ w`` by explicit loops.

    Parameters
    ----------
    x : array_like, complex, shape (M, K)
        Re and Im integer-valued in ``[-(2**(ib-1) - 1), 2**(ib-1) - 1]``.
    w : array_like, complex, shape (K, N)
        Re and Im integer-valued in ``[-(2**(wb-1) - 1), 2**(wb-1) - 1]``.
    config : CrossbarConfig (or any object with its fields)
    seed : passed unchanged to ``fdafast._rng`` when a random field is drawn.
    read_seed : the seed of the read noise alone (default: ``seed``).

    Returns
    -------
    y : ndarray, complex128, shape (M, N)
    counts : dict
        ``COUNT_FIELDS`` counted while emulating: a read per (m, block,
        column group, cycle, chunk), a DAC drive per used row of each read,
        an ADC conversion and a shift-add per (m, block, cycle, chunk,
        column); crossbars and cells from the arrays the loops touched.
    """
    g = Geometry(config)
    x = _check_operand(x, g.ib, "x")
    w = _check_operand(w, g.wb, "w")
    M, K = x.shape
    K2, N = w.shape
    assert K == K2, (x.shape, w.shape)
    nblocks, ncols = g.nblocks(K), g.ncols_logical(N)
    wre = [[int(w[k, n].real) for n in range(N)] for k in range(K)]
    wim = [[int(w[k, n].imag) for n in range(N)] for k in range(K)]

    G_cache = {}

    def G_of(part, st, s, k, n):
        cid = g.cell_id(part, st, s, k, n, K, N)
        if cid not in G_cache:
            v = wre[k][n] if part == 0 else wim[k][n]
            G_cache[cid] = conductance(g, g.level(v, st, s), cid, seed)
        return G_cache[cid]

    counts = dict.fromkeys(COUNT_FIELDS, 0)
    arrays, cells = set(), set()
    D = offset_correction(x, config)
    y = np.zeros((M, N), dtype=np.complex128)
    for m in range(M):
        C_re, C_im = [0] * N, [0] * N
        for b in range(nblocks):
            rows = g.block_rows(K, b)
            for q in (0, 1):
                for c in range(g.chunks):
                    # DAC values of this chunk on the rows of the block
                    u = [g.chunk_value(g.row_input(x[m, k], q, part), c) for k, part in rows]
                    for j in range(ncols):
                        if j % g.cols == 0:  # a new physical array of this block
                            counts["reads"] += 1
                            counts["dac_drives"] += len(rows)
                            arrays.add((b, j // g.cols))
                        cpart, st, s, n = g.column(j, N)
                        S = 0.0
                        for r, (k, rpart) in enumerate(rows):
                            part = rpart if g.rowpair else cpart
                            cells.add((b, r, j))
                            S = S + u[r] * G_of(part, st, s, k, n)
                        if g.read_sigma > 0:
                            from fdafast import _rng
                            conv_id = ((((m * nblocks + b) * 2 + q) * g.chunks + c) * ncols + j)
                            noise = seed if read_seed is None else read_seed
                            S = S + g.read_sigma * _draw(_rng.normal, noise, STREAM_READ, conv_id)
                        code = min(max(math.floor(S / g.step + 0.5), 0), g.code_max)
                        counts["adc_conversions"] += 1
                        counts["shift_adds"] += 1
                        wgt = g.chunk_sig(c) * g.set_sign(st) * 2 ** (s * g.cb)
                        if g.rowpair:
                            if q == 0:
                                C_re[n] += code * wgt
                            else:
                                C_im[n] += code * wgt
                        elif cpart == 0:
                            if q == 0:
                                C_re[n] += code * wgt
                            else:
                                C_im[n] += code * wgt
                        else:
                            if q == 0:
                                C_im[n] += code * wgt
                            else:
                                C_re[n] -= code * wgt
        D_re, D_im = D[m]
        for n in range(N):
            yre = float(g.step) * float(C_re[n]) + float(D_re)
            yim = float(g.step) * float(C_im[n]) + float(D_im)
            y[m, n] = complex(yre, yim)
    # arrays and cells are properties of the mapping, not of the batch: with
    # M = 0 the loops above touch nothing, so walk the mapping once more
    if M == 0:
        arrays = {(b, j // g.cols) for b in range(nblocks) for j in range(ncols)}
        cells = {(b, r, j) for b in range(nblocks) for r in range(len(g.block_rows(K, b)))
                 for j in range(ncols)}
    counts["crossbars"] = len(arrays)
    counts["cells"] = len(cells)
    return y, counts


def counts_reference(M, K, N, config):
    """The events of an (M, K) @ (K, N) product, by loops over the schedule.

    A loop counter independent of :func:`cmatmul_reference` and of any closed
    form: it walks every block, column group, input and chunk and adds one
    event at a time.  Returns a dict with keys ``COUNT_FIELDS``.
    """
    g = Geometry(config)
    nblocks, ncols = g.nblocks(K), g.ncols_logical(N)
    groups = [list(range(start, min(ncols, start + g.cols))) for start in range(0, ncols, g.cols)]
    counts = dict.fromkeys(COUNT_FIELDS, 0)
    for b in range(nblocks):
        nrows = len(g.block_rows(K, b))
        for cols in groups:
            counts["crossbars"] += 1
            counts["cells"] += nrows * len(cols)
    for m in range(M):
        for b in range(nblocks):
            nrows = len(g.block_rows(K, b))
            for cols in groups:
                for q in (0, 1):
                    for c in range(g.chunks):
                        counts["reads"] += 1
                        for _ in range(nrows):
                            counts["dac_drives"] += 1
                        for _ in cols:
                            counts["adc_conversions"] += 1
                            counts["shift_adds"] += 1
    return counts


def exact_product(x, w):
    """``x @ w`` with Python ints (exact), as complex128."""
    x, w = np.asarray(x), np.asarray(w)
    M, K = x.shape
    N = w.shape[1]
    y = np.zeros((M, N), np.complex128)
    for m in range(M):
        for n in range(N):
            re = im = 0
            for k in range(K):
                a, bb = complex(x[m, k]), complex(w[k, n])
                ar, ai, br, bi = int(a.real), int(a.imag), int(bb.real), int(bb.imag)
                re += ar * br - ai * bi
                im += ar * bi + ai * br
            y[m, n] = complex(float(re), float(im))
    return y


def matmul_reference(x, w, config, seed=None, read_seed=None):
    """The real crossbar product of ``x @ w`` by explicit loops (``fdafast.crossbar.matmul``).

    Input channel k drives row k of its block of ``rows`` rows with x[m, k]
    itself, in one cycle per chunk; column j = (set, s, n) holds slice s of
    set st of w[k, n]; cell ids ((st*ns + s)*K + k)*N + n (part 0 of the
    complex contract); conversion ids ((m*nblocks + b)*chunks + c)*ncols + j;
    ``D = -2^(wb-1) * sum_k x[m, k]`` for the offset encoding; read noise from
    ``read_seed`` (default ``seed``).  Returns ``(y float64 (M, N), counts dict)``.
    """
    g = Geometry(config)
    x = _check_operand(x, g.ib, "x")
    w = _check_operand(w, g.wb, "w")
    M, K = x.shape
    N = w.shape[1]
    nblocks = _ceil_div(K, g.R)
    ncols = g.sets * g.ns * N
    counts = dict.fromkeys(COUNT_FIELDS, 0)
    arrays, cells, G_cache = set(), set(), {}

    def G_of(st, s, k, n):
        cid = ((st * g.ns + s) * K + k) * N + n
        if cid not in G_cache:
            G_cache[cid] = conductance(g, g.level(int(w[k, n].real), st, s), cid, seed)
        return G_cache[cid]

    y = np.zeros((M, N))
    for m in range(M):
        C = [0] * N
        for b in range(nblocks):
            rows = list(range(b * g.R, min(K, (b + 1) * g.R)))
            for c in range(g.chunks):
                u = [g.chunk_value(int(x[m, k].real), c) for k in rows]
                for j in range(ncols):
                    if j % g.cols == 0:
                        counts["reads"] += 1
                        counts["dac_drives"] += len(rows)
                        arrays.add((b, j // g.cols))
                    n, rest = j % N, j // N
                    s, st = rest % g.ns, rest // g.ns
                    S = 0.0
                    for r, k in enumerate(rows):
                        cells.add((b, r, j))
                        S = S + u[r] * G_of(st, s, k, n)
                    if g.read_sigma > 0:
                        from fdafast import _rng
                        conv_id = ((m * nblocks + b) * g.chunks + c) * ncols + j
                        noise = seed if read_seed is None else read_seed
                        S = S + g.read_sigma * _draw(_rng.normal, noise, STREAM_READ, conv_id)
                    code = min(max(math.floor(S / g.step + 0.5), 0), g.code_max)
                    counts["adc_conversions"] += 1
                    counts["shift_adds"] += 1
                    C[n] += code * g.chunk_sig(c) * g.set_sign(st) * 2 ** (s * g.cb)
        D = 0 if g.differential else -g.off * sum(int(x[m, k].real) for k in range(K))
        for n in range(N):
            y[m, n] = float(g.step) * float(C[n]) + float(D)
    counts["crossbars"] = len(arrays) if M else nblocks * _ceil_div(ncols, g.cols)
    counts["cells"] = len(cells) if M else K * ncols
    return y, counts
