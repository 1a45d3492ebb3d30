"""The column gathers of the direct convolution (``im2col``), zero padding included.

Two layouts of the same values (:mod:`fdafast.direct` picks one per layer):
``gather_columns`` writes a row per input channel and tap, a column per output
position, copying runs of outputs along W; ``gather_rows`` reads a
channels-last input and writes a row per output position, copying runs of
input channels.  The runs are as long as the output rows or the channels:
each layout is fast where its runs are long.
"""
import numba

from . import JIT_PARALLEL


@numba.njit(**JIT_PARALLEL)
def gather_columns(x, cols, blk, kernel, pad, stride, dilation, ow):
    """``cols[(c, a, b, e), (n, d, h, w)] = x[n0 + n, c, (d0 + d) s0 + a l0 - p0, ...]``.

    ``x`` is (N, C, D, H, W), ``cols`` is (C * ka * kb * ke, nb * bd * bh * ow), both
    C-contiguous, with
    ``blk = (n0, n1, d0, d1, h0, h1)`` the images and output rows of the
    block; ``kernel``, ``pad`` (low), ``stride`` and ``dilation`` are per axis
    (D, H, W), ``ow`` the outputs along W.  Taps that fall in the padding read
    zero.  Rows of ``cols`` are spread over the threads.
    """
    C, D, H, W = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    # the geometry as scalars, read once: stores into ``cols`` would otherwise make
    # the compiler reload them from their arrays inside the loops
    ka, kb, ke = kernel[0], kernel[1], kernel[2]
    p0, p1, p2 = pad[0], pad[1], pad[2]
    s0, s1, s2 = stride[0], stride[1], stride[2]
    l0, l1, l2 = dilation[0], dilation[1], dilation[2]
    n0, n1, d0, d1, h0, h1 = blk[0], blk[1], blk[2], blk[3], blk[4], blk[5]
    taps = ka * kb * ke
    npos = cols.shape[1]
    # flat views and unsigned offsets: no array views (reference-counted in Numba)
    # and no negative-index wraparound inside the loops, so the copies vectorize
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    us2 = numba.uint64(s2)
    for r in numba.prange(C * taps):
        c = r // taps
        t = r - c * taps
        a = t // (kb * ke)
        b = (t // ke) % kb
        e = t % ke
        # outputs w whose input column w*s2 + e*l2 - p2 lies in [0, W)
        off = e * l2 - p2
        w_lo = min(ow, max(0, -(off // s2)))
        w_hi = ow
        while w_hi > w_lo and (w_hi - 1) * s2 + off >= W:
            w_hi -= 1
        uw_lo, uw_hi, uow = numba.uint64(w_lo), numba.uint64(w_hi), numba.uint64(ow)
        j = numba.uint64(r * npos)
        for n in range(n0, n1):
            for d in range(d0, d1):
                iz = d * s0 + a * l0 - p0
                for h in range(h0, h1):
                    iy = h * s1 + b * l1 - p1
                    if iz < 0 or iz >= D or iy < 0 or iy >= H:
                        for w in range(uow):
                            cf[j + w] = 0
                    else:
                        for w in range(uw_lo):
                            cf[j + w] = 0
                        if w_hi > w_lo:
                            # the row's first read, w_lo * s2 + off, lies in [0, W)
                            at = numba.uint64((((n * C + c) * D + iz) * H + iy) * W + off
                                              + w_lo * s2)
                            for w in range(uw_hi - uw_lo):
                                cf[j + uw_lo + w] = xf[at + w * us2]
                        for w in range(uw_hi, uow):
                            cf[j + w] = 0
                    j += uow


@numba.njit(**JIT_PARALLEL)
def gather_rows(xcl, rows, blk, kernel, pad, stride, dilation, ow, groups):
    """``rows[(n, d, h, w), (g, a, b, e, c)] = xcl[n0 + n, (d0 + d) s0 + a l0 - p0, ...,
    g * cig + c]``.

    ``xcl`` is the channels-last input (N, D, H, W, C), ``rows`` is
    (nb * bd * bh * ow, C * ka * kb * ke), both C-contiguous (``blk``'s images
    counted from 0 in ``xcl``); the columns are ordered by group, tap, then the
    group's ``cig = C / groups`` input channels; the other arguments as in
    :func:`gather_columns`.  Taps that fall in the padding read zero.  Rows
    (output positions) are spread over the threads.
    """
    D, H, W, C = xcl.shape[1], xcl.shape[2], xcl.shape[3], xcl.shape[4]
    ka, kb, ke = kernel[0], kernel[1], kernel[2]
    p0, p1, p2 = pad[0], pad[1], pad[2]
    s0, s1, s2 = stride[0], stride[1], stride[2]
    l0, l1, l2 = dilation[0], dilation[1], dilation[2]
    n0, d0, d1, h0, h1 = blk[0], blk[2], blk[3], blk[4], blk[5]
    bd, bh = d1 - d0, h1 - h0
    cig = C // groups
    kg = ka * kb * ke * cig
    ucig = numba.uint64(cig)
    # flat views: no array views (reference-counted in Numba) inside the loops
    xf = xcl.reshape(-1)
    rf = rows.reshape(-1)
    for p in numba.prange(rows.shape[0]):
        w = p % ow
        q = p // ow
        h = h0 + q % bh
        q //= bh
        d = d0 + q % bd
        n = n0 + q // bd
        t = 0
        for a in range(ka):
            iz = d * s0 + a * l0 - p0
            for b in range(kb):
                iy = h * s1 + b * l1 - p1
                for e in range(ke):
                    ix = w * s2 + e * l2 - p2
                    inside = 0 <= iz < D and 0 <= iy < H and 0 <= ix < W
                    src = (((n * D + iz) * H + iy) * W + ix) * C
                    for g in range(groups):
                        # unsigned offsets: Numba then skips the negative-index
                        # wraparound, and the copies vectorize
                        dst = numba.uint64(p * groups * kg + g * kg + t * cig)
                        if inside:
                            at = numba.uint64(src + g * cig)
                            for c in range(ucig):
                                rf[dst + c] = xf[at + c]
                        else:
                            for c in range(ucig):
                                rf[dst + c] = 0
                    t += 1
