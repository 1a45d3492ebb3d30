"""Clips from videos: lazy decoding (PyAV), clip sampling and the evaluation transforms.

A video model is evaluated on clips cut from each video the way its papers
and torchvision's presets do it:

1. **Sampling.**  A clip is ``frames`` frames taken ``stride`` frames apart
   (it spans ``(frames - 1) * stride + 1`` frames of the video).  ``clips``
   clips are cut per video, their starts uniformly spaced from the first
   possible start to the last (:func:`clip_starts`).
2. **Transforms**, per frame: ``uint8`` values scaled to [0, 1]; the short
   side resized to ``resize`` pixels (bilinear, the long side
   ``int(resize * long / short)`` as torchvision's ``Resize(int)``; a frame
   already of the crop's size is kept as it is); a centre crop to ``crop``;
   ``(x - mean) / std`` per channel (Kinetics' mean and std by default for
   3-channel models).  The defaults follow torchvision's video classification
   preset (resize 128, crop 112).
3. **Layout**: clips of ``(C, T, H, W)`` float32, the zoo's input layout.

Decoding is lazy and bounded: frames are decoded in order, each needed frame
is transformed (to the crop's size) as soon as it is decoded and the others
are dropped, and decoding stops after the last needed frame, so memory holds
at most the needed frames of one video at the crop's size, however long or
large the video.  ``.npy`` arrays are memory-mapped and only the needed
frames are read.

PyAV (``pip install av``, binary wheels bundle FFmpeg) is needed for video
files only.

>>> from fdafast.video import Sampling, clip_starts, sample_array
>>> import numpy as np
>>> s = Sampling(frames=4, stride=2, clips=3, resize=None, crop=(8, 8), mean=None, std=None,
...              channels=1)
>>> s.span, clip_starts(20, s.span, s.clips)
(7, [0, 6, 13])
>>> starts, clips = sample_array(np.zeros((1, 20, 8, 8), np.uint8), s)
>>> clips.shape
(3, 1, 4, 8, 8)
"""
import dataclasses
import math
import pathlib

import numpy as np

from . import _checks
from .errors import InvalidArgumentError

__all__ = ["Sampling", "SamplingError", "VideoError", "ClipTooShortError", "clip_starts",
           "frame_indices", "resize_short_side", "center_crop", "transform_frames",
           "read_video", "sample_array", "count_frames", "VIDEO_SUFFIXES", "KINETICS_MEAN",
           "KINETICS_STD"]

#: Video files a folder data set takes (decoded with PyAV).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm")
#: Kinetics-400 per-channel mean and standard deviation (RGB, values in [0, 1]), as
#: torchvision's video models were trained with.
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
#: torchvision's video preset resizes to 128 for a 112 crop; other crops keep the ratio.
RESIZE_PER_CROP = 128 / 112


class SamplingError(InvalidArgumentError):
    """Sampling or transform settings that cannot be used."""


class VideoError(InvalidArgumentError):
    """A video or clip file that cannot be read or decoded."""


class ClipTooShortError(VideoError):
    """A video with fewer frames than one clip spans."""


# -- settings --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sampling:
    """How clips are cut from a video and transformed (see the module docstring).

    Attributes
    ----------
    frames : int
        Frames per clip (the model's input depth).
    stride : int
        Step between a clip's frames, in frames of the video.
    clips : int
        Clips per video, uniformly spaced; video predictions average their scores.
    resize : int or None
        Short side after resizing, in pixels; None: no resize.
    crop : (int, int)
        Centre crop (height, width), the model's input size.
    mean, std : tuple of float or None
        Per-channel normalisation ``(x - mean) / std``; None: none.
    channels : int
        1 (grey, decoded as luma) or 3 (RGB).
    """

    frames: int = 16
    stride: int = 1
    clips: int = 1
    resize: object = 128
    crop: tuple = (112, 112)
    mean: object = KINETICS_MEAN
    std: object = KINETICS_STD
    channels: int = 3

    def __post_init__(self):
        put = lambda k, v: object.__setattr__(self, k, v)     # noqa: E731 (frozen)
        for name in ("frames", "stride", "clips", "channels"):
            put(name, _checks.integer(name, getattr(self, name), 1, 4096, error=SamplingError))
        if self.resize is not None:
            put("resize", _checks.integer("resize", self.resize, 1, 16384, error=SamplingError))
        crop = self.crop
        if isinstance(crop, (int, np.integer)) and not isinstance(crop, bool):
            crop = (crop, crop)
        if not isinstance(crop, (tuple, list)) or len(crop) != 2:
            raise SamplingError(f"crop must be an int or (height, width), got {self.crop!r}")
        put("crop", tuple(_checks.integer("crop", c, 1, 16384, error=SamplingError)
                          for c in crop))
        if (self.mean is None) != (self.std is None):
            raise SamplingError("give both mean and std, or neither (no normalisation)")
        if self.mean is not None:
            put("mean", self._per_channel("mean", self.mean, None))
            put("std", self._per_channel("std", self.std, 0.0))

    def _per_channel(self, name, values, lo):
        values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
        if len(values) != self.channels:
            raise SamplingError(f"{name} needs {self.channels} value(s), one per channel, got "
                                f"{values!r}")
        return tuple(_checks.number(name, v, lo, None, lo_open=lo is not None,
                                    error=SamplingError) for v in values)

    @property
    def span(self):
        """Frames of the video one clip covers: ``(frames - 1) * stride + 1``."""
        return (self.frames - 1) * self.stride + 1

    @classmethod
    def for_network(cls, input_shape, **overrides):
        """The sampling that fits a 3D network's ``(C, T, H, W)`` input: its frames,
        channels and crop; resize ``ceil(128/112 * short side of the crop)``; Kinetics
        normalisation for 3 channels, none otherwise.  ``overrides`` replace any field."""
        if len(input_shape) != 4:
            raise SamplingError(f"clips need a 3D network with (C, T, H, W) inputs; this "
                                f"one takes {tuple(input_shape)}")
        c, t, h, w = (int(v) for v in input_shape)
        rgb = c == 3
        base = dict(frames=t, crop=(h, w), channels=c,
                    resize=math.ceil(RESIZE_PER_CROP * min(h, w)),
                    mean=KINETICS_MEAN if rgb else None, std=KINETICS_STD if rgb else None)
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise SamplingError(f"unknown sampling setting(s) {', '.join(unknown)}; settings: "
                                f"{', '.join(f.name for f in dataclasses.fields(cls))}")
        return cls(**{**base, **overrides})

    def as_dict(self):
        return dataclasses.asdict(self)


# -- planning: which frames ----------------------------------------------------------------------
def clip_starts(n_frames, span, clips):
    """First frame of each of ``clips`` clips spanning ``span`` frames of an ``n_frames`` video.

    The starts are uniformly spaced over the possible ones, ``0 .. n_frames - span``:
    ``round(i * (n_frames - span) / (clips - 1))`` for ``i = 0 .. clips - 1`` (the
    first clip at the start, the last at the end, as torchvision's uniform clip
    sampler); one clip is centred, ``(n_frames - span) // 2``.  A video shorter than
    a clip has no start: :class:`ClipTooShortError`.  Starts may repeat when the
    video has fewer possible starts than ``clips``.
    """
    room = n_frames - span
    if room < 0:
        raise ClipTooShortError(f"the video has {n_frames} frames, fewer than the {span} one "
                                f"clip spans; use fewer --frames or a smaller --stride")
    if clips == 1:
        return [room // 2]
    return [int(round(i * room / (clips - 1))) for i in range(clips)]


def frame_indices(starts, frames, stride):
    """The sorted, distinct frame indices that the clips at ``starts`` read."""
    return sorted({s + j * stride for s in starts for j in range(frames)})


# -- transforms --------------------------------------------------------------------------------
def _linear_weights(n_in, n_out):
    """Source indices and weights of 1-D linear interpolation from ``n_in`` to ``n_out``
    samples, as torch's ``interpolate(mode='bilinear', align_corners=False)`` without
    antialiasing: the source coordinate of output ``i`` is ``(i + 0.5) n_in / n_out - 0.5``,
    clamped at 0."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_short_side(frames, size):
    """Frames ``(..., H, W)`` resized (bilinear) so that their short side is ``size``.

    The long side becomes ``int(size * long / short)`` (torchvision's
    ``Resize(size)``).  Float32 in, float32 out.
    """
    h, w = frames.shape[-2:]
    if min(h, w) == size:
        return frames
    nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    r0, r1, rw = _linear_weights(h, nh)
    c0, c1, cw = _linear_weights(w, nw)
    rows = frames[..., r0, :] * (1 - rw)[:, None] + frames[..., r1, :] * rw[:, None]
    return rows[..., c0] * (1 - cw) + rows[..., c1] * cw


def center_crop(frames, crop):
    """The centre ``crop = (h, w)`` of frames ``(..., H, W)`` (torchvision's rounding:
    top ``int(round((H - h) / 2))``); a frame smaller than the crop is refused."""
    h, w = frames.shape[-2:]
    ch, cw = crop
    if h < ch or w < cw:
        raise VideoError(f"frames of {h}x{w} pixels are smaller than the {ch}x{cw} crop; "
                         f"resize them to a short side of at least {max(ch, cw)}")
    top, left = int(round((h - ch) / 2)), int(round((w - cw) / 2))
    return frames[..., top:top + ch, left:left + cw]


def transform_frames(frames, sampling):
    """Frames ``(C, N, H, W)`` (uint8 or float) through the sampling's transforms:
    scaled to [0, 1] when uint8, resized, centre-cropped, normalised; float32."""
    x = np.asarray(frames)
    x = x.astype(np.float32) / np.float32(255) if x.dtype == np.uint8 \
        else x.astype(np.float32, copy=False)
    if sampling.resize is not None and tuple(x.shape[-2:]) != sampling.crop:
        x = resize_short_side(x, sampling.resize)
    x = center_crop(x, sampling.crop)
    if sampling.mean is not None:
        mean = np.asarray(sampling.mean, np.float32).reshape(-1, 1, 1, 1)
        std = np.asarray(sampling.std, np.float32).reshape(-1, 1, 1, 1)
        x = (x - mean) / std
    return np.ascontiguousarray(x, np.float32)


def _assemble(frames_by_index, starts, sampling):
    """Clips ``(len(starts), C, T, H, W)`` from transformed frames ``{index: (C, H, W)}``."""
    return np.stack([np.stack([frames_by_index[s + j * sampling.stride]
                               for j in range(sampling.frames)], axis=1) for s in starts])


# -- arrays ------------------------------------------------------------------------------------
def sample_array(video, sampling, name="the clip"):
    """``(starts, clips)`` from a video array ``(C, T, H, W)`` (a memory map is read
    only where needed).

    Raises :class:`VideoError` for an array of another rank, channel count or a
    non-real dtype, and :class:`ClipTooShortError` for too few frames.
    """
    if not isinstance(video, np.ndarray) or video.dtype.kind not in "fiu" or video.ndim != 4:
        what = f"shape {video.shape}, dtype {video.dtype}" if isinstance(video, np.ndarray) \
            else type(video).__name__
        raise VideoError(f"{name} must be a real array (C, T, H, W), got {what}")
    if video.shape[0] != sampling.channels:
        raise VideoError(f"{name} has {video.shape[0]} channels (shape {video.shape}, "
                         f"layout C, T, H, W); the model takes {sampling.channels}")
    starts = clip_starts(video.shape[1], sampling.span, sampling.clips)
    idx = frame_indices(starts, sampling.frames, sampling.stride)
    x = transform_frames(np.asarray(video[:, idx]), sampling)
    if not np.all(np.isfinite(x)):
        raise VideoError(f"{name} holds NaN or infinite values")
    return starts, _assemble({i: x[:, k] for k, i in enumerate(idx)}, starts, sampling)


# -- video files -------------------------------------------------------------------------------
def _av():
    # PyAV is optional (the video extra) and only reading video files needs it
    try:
        import av
    except ImportError:
        raise VideoError("reading video files needs PyAV: pip install av (or "
                         "pip install 'fdafast[video]')") from None
    return av


def count_frames(container, stream):
    """Frames of the stream: its header's count, else its packets counted by demuxing
    (no decoding; some containers, such as Matroska and WebM, store no count)."""
    if stream.frames > 0:
        return int(stream.frames)
    n = sum(1 for p in container.demux(stream) if p.size > 0)
    container.seek(0, stream=stream)
    return n


def _decode_needed(container, stream, needed, sampling):
    """``({index: transformed frame}, frames decoded)`` for the ``needed`` indices
    (sorted), decoding in order and stopping after the last one."""
    fmt = "gray" if sampling.channels == 1 else "rgb24"
    wanted, last, out, decoded = set(needed), needed[-1], {}, 0
    for i, frame in enumerate(container.decode(stream)):
        decoded = i + 1
        if i in wanted:
            a = frame.to_ndarray(format=fmt)
            a = a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)       # (C, H, W)
            out[i] = transform_frames(a[:, None], sampling)[:, 0]
        if i >= last:
            break
    return out, decoded


def read_video(path, sampling):
    """``(starts, clips)``: the sampling's clips ``(clips, C, T, H, W)`` of a video file.

    Raises :class:`VideoError` for a file that cannot be opened or decoded or
    has no video stream, :class:`ClipTooShortError` for too few frames, and
    :class:`SamplingError` for a channel count other than 1 or 3.
    """
    av = _av()
    if sampling.channels not in (1, 3):
        raise SamplingError(f"video files decode to 1 (grey) or 3 (RGB) channels; the model "
                            f"takes {sampling.channels}")
    path = pathlib.Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{str(path)!r} has no video stream")
            stream = container.streams.video[0]
            n = count_frames(container, stream)
            starts = clip_starts(n, sampling.span, sampling.clips)
            needed = frame_indices(starts, sampling.frames, sampling.stride)
            frames, decoded = _decode_needed(container, stream, needed, sampling)
    except ClipTooShortError as exc:
        raise ClipTooShortError(f"{str(path)!r}: {exc}") from None
    except (VideoError, SamplingError):
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise VideoError(f"cannot decode {str(path)!r}: {exc}") from None
    missing = [i for i in needed if i not in frames]
    if missing:
        raise VideoError(f"cannot decode {str(path)!r}: it counts {n} frames but only "
                         f"{decoded} decode (corrupt or truncated)")
    return starts, _assemble(frames, starts, sampling)

