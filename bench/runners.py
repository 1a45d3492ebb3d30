"""Backend runners shared by the pytest-benchmark file and the ratio script."""
import numpy as np


def fdafast_tile_fft(case, tiles, threads):
    """Fused forward + inverse tile FFT with fdafast; returns (run, spectra())."""
    from fdafast import fft
    re = np.empty(case.spectrum_shape, tiles.dtype)
    im = np.empty(case.spectrum_shape, tiles.dtype)
    out = np.empty(tiles.shape, tiles.dtype)

    def run():
        fft.rfft_tiles(tiles, threads=threads, out=(re, im))
        fft.irfft_tiles(re, im, tiles.shape[1:], threads=threads, out=out, normalize=False)
        return out
    return run, lambda: re + 1j * im.astype(np.complex64)
