"""Clip sampling, transforms and decoding (fdafast.video), and data sets (fdafast.data)."""
import numpy as np
import pytest

from fdafast import data, video
from fdafast.video import ClipTooShortError, Sampling, SamplingError, VideoError

import videos

av = pytest.importorskip("av")


def grey(frames=4, crop=8, **kw):
    return Sampling(frames=frames, crop=(crop, crop), channels=1, resize=None, mean=None,
                    std=None, **kw)


# -- planning -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n, span, clips, want", [
    (16, 16, 1, [0]), (16, 16, 3, [0, 0, 0]), (20, 7, 3, [0, 6, 13]), (21, 16, 1, [2]),
    (100, 16, 5, [0, 21, 42, 63, 84]), (17, 16, 4, [0, 0, 1, 1]), (1, 1, 2, [0, 0])])
def test_clip_starts_are_uniform_and_inside_the_video(n, span, clips, want):
    starts = video.clip_starts(n, span, clips)
    assert starts == want
    assert all(0 <= s and s + span <= n for s in starts)


def test_a_video_shorter_than_a_clip_has_no_start():
    with pytest.raises(ClipTooShortError, match="7 frames, fewer than the 16"):
        video.clip_starts(7, 16, 1)


def test_frame_indices_are_the_union_of_the_clips():
    assert video.frame_indices([0, 3], 3, 2) == [0, 2, 3, 4, 5, 7]


# -- transforms -----------------------------------------------------------------------------------
@pytest.mark.parametrize("h, w, size", [(37, 53, 16), (53, 37, 20), (13, 15, 14), (240, 320, 128),
                                        (7, 7, 12), (9, 31, 9)])
def test_resize_is_torch_bilinear_without_antialiasing(h, w, size, rng, assert_close):
    torch = pytest.importorskip("torch")
    x = rng.random((3, 2, h, w), dtype=np.float32)
    y = video.resize_short_side(x, size)
    short, long_ = sorted((h, w))
    assert min(y.shape[-2:]) == size and max(y.shape[-2:]) == int(size * long_ / short)
    t = torch.nn.functional.interpolate(torch.from_numpy(x), size=y.shape[-2:], mode="bilinear",
                                        align_corners=False, antialias=False).numpy()
    assert_close(y, t, what="resize")          # torch computes the coordinates in float32


def test_centre_crop_rounds_as_torchvision_and_refuses_small_frames():
    x = np.arange(7 * 9).reshape(1, 7, 9)
    np.testing.assert_array_equal(video.center_crop(x, (4, 4)), x[:, 2:6, 2:6])  # round(1.5)=2
    np.testing.assert_array_equal(video.center_crop(x, (7, 9)), x)
    with pytest.raises(VideoError, match="smaller than the 8x8 crop"):
        video.center_crop(x, (8, 8))


def test_transform_scales_uint8_and_normalises_per_channel():
    s = Sampling(frames=1, crop=(2, 2), resize=None, channels=3, mean=(0.5, 0.25, 0.0),
                 std=(0.5, 0.25, 1.0))
    x = np.full((3, 1, 2, 2), 255, np.uint8)
    y = video.transform_frames(x, s)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0, 0, 0], [1.0, 3.0, 1.0], rtol=1e-6)


def test_a_frame_of_the_crop_size_is_not_resized():
    s = Sampling(frames=1, crop=(4, 4), resize=9, channels=1, mean=None, std=None)
    x = np.random.default_rng(0).random((1, 1, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(video.transform_frames(x, s), x)


def test_sampling_defaults_fit_the_network_and_bad_settings_are_named():
    s = Sampling.for_network((3, 16, 112, 112))
    assert (s.frames, s.crop, s.resize, s.mean) == (16, (112, 112), 128, video.KINETICS_MEAN)
    g = Sampling.for_network((1, 8, 12, 12), clips=3)
    assert (g.resize, g.mean, g.clips) == (14, None, 3)
    for kw, match in [(dict(frames=0), "frames must be"),
                      (dict(mean=(0.5,) * 3, std=None), "both mean"),
                      (dict(mean=(0.5,), std=(1.0,)), "mean needs 3"),
                      (dict(std=(1, 1, 0), mean=(0, 0, 0)), "std must be"),
                      (dict(crop=(1, 2, 3)), "crop must be"), (dict(stride=1.5), "stride")]:
        with pytest.raises(SamplingError, match=match):
            Sampling(**kw)
    with pytest.raises(SamplingError, match="unknown sampling setting.*fps"):
        Sampling.for_network((3, 16, 112, 112), fps=5)
    with pytest.raises(SamplingError, match=r"\(C, T, H, W\)"):
        Sampling.for_network((3, 224, 224))


def test_sample_array_takes_the_clips_frames():
    x = np.arange(20, dtype=np.float32)[None, :, None, None] * np.ones((1, 20, 8, 8), np.float32)
    starts, clips = video.sample_array(x, grey(frames=4, stride=2, clips=3))
    assert starts == [0, 6, 13] and clips.shape == (3, 1, 4, 8, 8)
    np.testing.assert_array_equal(clips[1, 0, :, 0, 0], [6, 8, 10, 12])
    with pytest.raises(VideoError, match="2 channels"):
        video.sample_array(np.zeros((2, 20, 8, 8)), grey())
    with pytest.raises(ClipTooShortError):
        video.sample_array(np.zeros((1, 3, 8, 8)), grey())
    with pytest.raises(VideoError, match="NaN"):
        video.sample_array(np.full((1, 4, 8, 8), np.nan), grey())
    with pytest.raises(VideoError, match=r"real array \(C, T, H, W\)"):
        video.sample_array(np.zeros((4, 8, 8)), grey())


# -- decoding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", sorted(videos.CODECS))
def test_videos_decode_in_every_container(tmp_path, suffix):
    codec, pix = videos.CODECS[suffix]
    if not videos.encoder_available(codec):
        pytest.skip(f"this PyAV's FFmpeg has no {codec} encoder")
    x, _ = videos.shapes(1, seed=3, frames=10)
    path = videos.write_video(tmp_path / f"a.{suffix}", x[0, 0], codec, pix)
    starts, clips = video.read_video(path, grey(frames=8, crop=12, clips=2))
    assert starts == [0, 2] and clips.shape == (2, 1, 8, 12, 12)
    want = x[0, :, starts[1]:starts[1] + 8].astype(np.float32) / 255
    err = np.abs(clips[1] - want).mean()
    assert err == 0 if codec == "ffv1" else err < 0.05, err


@pytest.mark.parametrize("h, w", [(13, 15), (17, 12), (12, 31)])
def test_odd_sizes_are_resized_and_cropped(tmp_path, h, w):
    frames = np.random.default_rng(h * w).integers(0, 256, (9, h, w), dtype=np.uint8)
    path = videos.write_video(tmp_path / "odd.mkv", frames)
    s = Sampling(frames=8, crop=(12, 12), channels=1, resize=14, mean=None, std=None)
    _, clips = video.read_video(path, s)
    assert clips.shape == (1, 1, 8, 12, 12) and np.isfinite(clips).all()
    _, direct = video.sample_array(frames[None], s)               # the same transforms
    np.testing.assert_array_equal(clips, direct)


def test_rgb_decoding_and_a_count_from_demuxing(tmp_path):
    import av as _av
    path = tmp_path / "c.webm"
    with _av.open(str(path), "w") as c:
        s = c.add_stream("libvpx-vp9", rate=25)
        s.width = s.height = 16
        s.pix_fmt = "yuv420p"
        for t in range(6):
            f = np.zeros((16, 16, 3), np.uint8)
            f[..., 0] = 200
            for p in s.encode(_av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with _av.open(str(path)) as c:
        assert c.streams.video[0].frames == 0                    # WebM keeps no count
        assert video.count_frames(c, c.streams.video[0]) == 6
    s = Sampling(frames=6, crop=(16, 16), resize=None, channels=3, mean=None, std=None)
    _, clips = video.read_video(path, s)
    assert clips.shape == (1, 3, 6, 16, 16)
    np.testing.assert_allclose(clips[0, :, :, 4:12, 4:12].mean(axis=(1, 2, 3)),
                               [200 / 255, 0, 0], atol=0.03)


def test_decoding_stops_after_the_last_needed_frame(tmp_path):
    frames = np.zeros((40, 8, 8), np.uint8)
    path = videos.write_video(tmp_path / "long.mkv", frames)
    s = grey(frames=4)
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        got, decoded = video._decode_needed(c, st, [0, 1, 2, 3], s)
    assert sorted(got) == [0, 1, 2, 3] and decoded == 4


def test_bad_files_are_video_errors(tmp_path):
    s = grey(frames=8, crop=12)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(VideoError, match="junk.mp4"):
        video.read_video(junk, s)
    x, _ = videos.shapes(1, seed=4, frames=30)
    good = videos.write_video(tmp_path / "good.avi", x[0, 0], "mpeg4", "yuv420p")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 3])
    with pytest.raises(VideoError, match="cut.avi"):
        video.read_video(cut, Sampling(frames=8, crop=(12, 12), channels=1, resize=None,
                                       mean=None, std=None, clips=3))
    short = videos.write_video(tmp_path / "short.mkv", x[0, 0, :5])
    with pytest.raises(ClipTooShortError, match="short.mkv.*5 frames"):
        video.read_video(short, s)
    with pytest.raises(VideoError, match="cannot decode"):
        video.read_video(tmp_path / "missing.mp4", s)


# -- data sets ---------------------------------------------------------------------------------
def test_class_folders_give_labels_and_check_the_classes(tmp_path):
    x, y = videos.shapes(6, seed=5)
    videos.class_folders(tmp_path, x, y)
    ds = data.from_folder(tmp_path)
    assert ds.classes == sorted({("east", "north", "west", "south")[v] for v in y})
    assert all(ds.classes[it.label] == it.id.split("/")[0] for it in ds.items)
    model = ["east", "north", "west", "south"]
    ds = data.from_folder(tmp_path, classes=model)
    assert all(model[it.label] == it.id.split("/")[0] for it in ds.items)
    with pytest.raises(data.DatasetError, match="not among the model's 2 classes"):
        data.from_folder(tmp_path, classes=["up", "down"])
    (tmp_path / "loose.mkv").write_bytes(b"")
    with pytest.raises(data.DatasetError, match="also files outside them"):
        data.from_folder(tmp_path)


def test_empty_folders_and_loose_files(tmp_path):
    (tmp_path / "notes.txt").write_text("no videos here")
    with pytest.raises(data.DatasetError, match="holds no videos"):
        data.from_folder(tmp_path)
    with pytest.raises(data.DatasetError, match="no folder"):
        data.from_folder(tmp_path / "nowhere")
    np.save(tmp_path / "a.npy", np.zeros((1, 8, 12, 12), np.float32))
    ds = data.from_folder(tmp_path)
    assert [(it.id, it.label, it.kind) for it in ds.items] == [("a.npy", None, "npy")]


def test_manifests(tmp_path):
    for name in ("a.npy", "b.npy"):
        np.save(tmp_path / name, np.zeros((1, 8, 12, 12), np.float32))
    m = tmp_path / "m.csv"
    m.write_text("path,label\na.npy,1\nb.npy,0\n")
    assert [(it.id, it.label) for it in data.from_manifest(m).items] == [("a.npy", 1),
                                                                          ("b.npy", 0)]
    m.write_text("a.npy,cat\nb.npy,dog\n")
    ds = data.as_dataset(m)
    assert ds.classes == ["cat", "dog"] and [it.label for it in ds.items] == [0, 1]
    m.write_text("a.npy,cat\nb.npy,\n")
    with pytest.raises(data.DatasetError, match="line 2 .* has no label"):
        data.from_manifest(m)
    m.write_text("a.npy,1\nc.npy,0\n")
    with pytest.raises(data.DatasetError, match="line 2 .*no file"):
        data.from_manifest(m)
    m.write_text("a.npy,cow\n")
    with pytest.raises(data.DatasetError, match="'cow' is not among the classes"):
        data.from_manifest(m, classes=["cat", "dog"])
    m.write_text("path,class\na.npy,1\n")
    with pytest.raises(data.DatasetError, match="no 'label' column"):
        data.from_manifest(m)


def test_iterables_are_consumed_lazily():
    seen = []

    def gen():
        for i in range(3):
            seen.append(i)
            yield np.zeros((1, 8, 12, 12), np.float32), i
    ds = data.as_dataset(gen())
    assert not ds.sized and seen == []
    head, ds = data.peek(ds, 1)
    assert seen == [0] and [it.id for it in ds.items] == ["000000", "000001", "000002"]
    with pytest.raises(data.DatasetError, match="not a \\(clip, label\\) pair"):
        list(data.as_dataset([np.zeros(3)]).items)
    with pytest.raises(data.DatasetError, match="label must be"):
        data.as_dataset([(np.zeros((1, 8, 4, 4)), -1)])
    with pytest.raises(data.DatasetError, match="data must be"):
        data.as_dataset(np.zeros((2, 1, 8, 4, 4)))
