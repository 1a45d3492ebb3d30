"""Test data made here: short videos of the moving-shapes task written with PyAV, and a
small 3D CNN trained on the task with torch.

Frames are the clips of :func:`fdafast.nn.datasets.moving_shapes` clipped to
[0, 1] and stored as 8-bit grey levels, so that a lossless codec (FFV1)
gives back exactly what the model was trained and scored on.
"""
import numpy as np

from fdafast.nn import datasets

#: (file suffix, codec, pixel format): the containers and codecs the tests write.
#: FFV1 in Matroska is lossless; the others are lossy and need even sizes for 4:2:0.
CODECS = {"mkv": ("ffv1", "gray"), "mp4": ("libx264", "yuv444p"), "webm": ("libvpx-vp9", "yuv420p"),
          "avi": ("mpeg4", "yuv420p")}
FRAMES, SIZE, DIRECTIONS = 8, 12, 4


def encoder_available(codec):
    import av
    try:
        av.codec.Codec(codec, "w")
        return True
    except Exception:                       # this FFmpeg build lacks the encoder
        return False


def quantised(x):
    """Clips as the 8-bit grey levels a video stores."""
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def write_video(path, frames, codec="ffv1", pix_fmt="gray", rate=25):
    """Write ``frames`` (T, H, W) uint8 grey levels as a video file."""
    import av
    frames = np.asarray(frames, np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = pix_fmt
        if codec == "libx264":
            s.options = {"crf": "0"}        # lossless H.264 where the build allows it
        for f in frames:
            vf = av.VideoFrame.from_ndarray(f, format="gray")
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def shapes(n, seed, frames=FRAMES, size=SIZE):
    """Moving-shapes clips (n, 1, frames, size, size) as uint8 and their labels."""
    x, y = datasets.moving_shapes(n, directions=DIRECTIONS, frames=frames, size=size,
                                  noise=0.05, seed=seed)
    return quantised(x), y


def class_folders(root, x, y, suffix="mkv", names=("east", "north", "west", "south")):
    """Videos of the clips ``x`` in class-named subfolders of ``root``; returns the paths."""
    codec, pix = CODECS[suffix]
    paths = []
    for i, (clip, label) in enumerate(zip(x, y)):
        d = root / names[label]
        d.mkdir(parents=True, exist_ok=True)
        paths.append(write_video(d / f"v{i:03d}.{suffix}", clip[0], codec, pix))
    return paths


def train_model(seed=0):
    """A 3D CNN trained on moving shapes (1 x 8 x 12 x 12, 4 directions), in a few
    seconds; returns (torch module, float accuracy on a held-out set, held-out set)."""
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                # tiny convolutions: one thread is fastest
    try:
        xtr, ytr = shapes(256, seed=1)
        m = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                          nn.Conv3d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1),
                          nn.Flatten(), nn.Linear(8, DIRECTIONS))
        opt = torch.optim.Adam(m.parameters(), lr=2e-2)
        X, Y = torch.from_numpy(xtr.astype(np.float32) / 255), torch.from_numpy(ytr)
        for _ in range(7):
            perm = torch.randperm(len(X))
            for i in range(0, len(X), 16):
                idx = perm[i:i + 16]
                opt.zero_grad()
                nn.functional.cross_entropy(m(X[idx]), Y[idx]).backward()
                opt.step()
        m.eval()
        xte, yte = shapes(24, seed=2)
        with torch.no_grad():
            pred = m(torch.from_numpy(xte.astype(np.float32) / 255)).argmax(1).numpy()
    finally:
        torch.set_num_threads(threads)
    return m, float(np.mean(pred == yte)), (xte, yte)
