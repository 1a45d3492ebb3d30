"""The column gather of the direct convolution (``im2col``), zero padding included."""
import numba

from . import JIT_PARALLEL


@numba.njit(**JIT_PARALLEL)
def gather_columns(x, cols, blk, kernel, pad, stride, dilation, ow):
    """``cols[(c, a, b, e), (n, d, h, w)] = x[n0 + n, c, (d0 + d) s0 + a l0 - p0, ...]``.

    ``x`` is (N, C, D, H, W), ``cols`` is (C * ka * kb * ke, nb * bd * bh * ow) with
    ``blk = (n0, n1, d0, d1, h0, h1)`` the images and output rows of the
    block; ``kernel``, ``pad`` (low), ``stride`` and ``dilation`` are per axis
    (D, H, W), ``ow`` the outputs along W.  Taps that fall in the padding read
    zero.  Rows of ``cols`` are spread over the threads.
    """
    C, D, H, W = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    ka, kb, ke = kernel[0], kernel[1], kernel[2]
    n0, n1, d0, d1, h0, h1 = blk[0], blk[1], blk[2], blk[3], blk[4], blk[5]
    taps = ka * kb * ke
    for r in numba.prange(C * taps):
        c = r // taps
        t = r - c * taps
        a = t // (kb * ke)
        b = (t // ke) % kb
        e = t % ke
        # outputs w whose input column w*s2 + e*l2 - p2 lies in [0, W)
        off = e * dilation[2] - pad[2]
        w_lo = min(ow, max(0, -(off // stride[2])))
        w_hi = ow
        while w_hi > w_lo and (w_hi - 1) * stride[2] + off >= W:
            w_hi -= 1
        j = 0
        for n in range(n0, n1):
            for d in range(d0, d1):
                iz = d * stride[0] + a * dilation[0] - pad[0]
                for h in range(h0, h1):
                    iy = h * stride[1] + b * dilation[1] - pad[1]
                    if iz < 0 or iz >= D or iy < 0 or iy >= H:
                        for w in range(ow):
                            cols[r, j + w] = 0
                    else:
                        for w in range(w_lo):
                            cols[r, j + w] = 0
                        if stride[2] == 1:
                            cols[r, j + w_lo:j + w_hi] = x[n, c, iz, iy, w_lo + off:w_hi + off]
                        else:
                            for w in range(w_lo, w_hi):
                                cols[r, j + w] = x[n, c, iz, iy, w * stride[2] + off]
                        for w in range(w_hi, ow):
                            cols[r, j + w] = 0
                    j += ow
