"""Labelled video data sets: folders of videos or ``.npy`` clips, CSV manifests, iterables.

A data set is a sequence of :class:`Item` s, small descriptions (an id, a
label, where the clip comes from) that travel to the workers of an
evaluation, which decode them (:func:`load_clips`); and the class names,
when known.

* **A folder** (:func:`from_folder`).  Video files (``.mp4``, ``.avi``,
  ``.mkv``, ``.webm``, decoded with PyAV) and ``.npy`` arrays ``(C, T, H, W)``.
  Class-named subfolders, as torchvision's video data sets lay them out,
  give the labels: the classes are the subfolders' names in sorted order
  (or the list given), a class's files are those anywhere under its folder.
  Files directly in a folder without class subfolders are unlabelled.
* **A CSV manifest** (:func:`from_manifest`): one line per video, ``path,label``
  (an optional header line names the columns ``path`` and ``label``);
  relative paths are relative to the manifest's folder; a label is a class
  index or a class name.
* **An iterable** of ``(clip, label)`` pairs (:func:`from_iterable`): arrays
  ``(C, T, H, W)`` and an int label (or None), consumed lazily.

Everything is checked when the data set is made, before any clip is
decoded: a folder with no videos, a missing file, a line without a label, a
class that is not among the given ones are :class:`DatasetError` s naming
the place and the fix.
"""
import csv
import dataclasses
import hashlib
import itertools
import pathlib

import numpy as np

from . import video
from .errors import InvalidArgumentError

__all__ = ["Item", "Dataset", "DatasetError", "from_folder", "from_manifest", "from_iterable",
           "as_dataset", "load_clips", "read_classes", "check_labels", "peek", "CLIP_SUFFIXES"]

#: Files a folder data set takes: video files and .npy arrays.
CLIP_SUFFIXES = video.VIDEO_SUFFIXES + (".npy",)


class DatasetError(InvalidArgumentError):
    """A data set that cannot be used (empty, missing files or labels, unknown classes)."""


@dataclasses.dataclass(frozen=True)
class Item:
    """One video (or clip) of a data set.

    Attributes
    ----------
    id : str
        Unique in the data set: the path relative to the data set's root, or
        the position of an iterable's item (``'000017'``).
    label : int or None
    source : str or ndarray
        The file's absolute path, or the array itself.
    """

    id: str
    label: object
    source: object

    @property
    def kind(self):
        """'video', 'npy' or 'array'."""
        if isinstance(self.source, np.ndarray):
            return "array"
        return "npy" if str(self.source).lower().endswith(".npy") else "video"


@dataclasses.dataclass
class Dataset:
    """Items and what is known of them.

    Attributes
    ----------
    items : list or iterator of Item
        A list for folders and manifests; an iterator (consumed once) for iterables.
    classes : list of str or None
        Class names by label index, when known.
    description : dict
        What the data set is (kind, path, count, digest), for a results store's identity.
    """

    items: object
    classes: object = None
    description: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        if not isinstance(self.items, list):
            raise TypeError("an iterable data set has no length until it is consumed")
        return len(self.items)

    @property
    def sized(self):
        return isinstance(self.items, list)


# -- classes ------------------------------------------------------------------------------------
def read_classes(source):
    """Class names from a list or a text file (one name a line, blank lines ignored)."""
    if source is None:
        return None
    if isinstance(source, (str, pathlib.Path)):
        path = pathlib.Path(source)
        try:
            names = [l.strip() for l in path.read_text().splitlines() if l.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read the class names in {str(path)!r}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
    else:
        names = [str(n) for n in source]
    twice = sorted({n for n in names if names.count(n) > 1})
    if not names or twice:
        raise DatasetError(f"class names must be distinct and at least one; "
                           f"{'repeated: ' + ', '.join(twice) if twice else 'none given'}")
    return names


def _media(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and p.suffix.lower() in CLIP_SUFFIXES and not p.name.startswith("."))


def _digest(items):
    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.id}\x1f{it.label}\n".encode())
    return h.hexdigest()[:16]


# -- folders ------------------------------------------------------------------------------------
def from_folder(root, classes=None):
    """A data set of the videos and ``.npy`` clips under ``root`` (see the module docstring).

    Raises :class:`DatasetError` when there is no folder at ``root``, it holds no
    video or clip, it mixes class subfolders with loose files, or a class
    folder is not among ``classes``.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise DatasetError(f"no folder at {str(root)!r}" if not root.exists()
                           else f"{str(root)!r} is not a folder")
    classes = read_classes(classes)
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and _media(p))
    loose = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES)
    if not subdirs and not loose:
        raise DatasetError(f"{str(root)!r} holds no videos ({', '.join(video.VIDEO_SUFFIXES)}) "
                           f"or .npy clips, directly or in class subfolders")
    if subdirs and loose:
        raise DatasetError(f"{str(root)!r} has class subfolders and also files outside them "
                           f"({loose[0].name}...); move those into their class's folder")
    if not subdirs:
        items = [Item(p.name, None, str(p.resolve())) for p in loose]
        return Dataset(items, classes, {"kind": "folder", "path": str(root.resolve()),
                                        "count": len(items), "digest": _digest(items)})
    names = [d.name for d in subdirs]
    if classes is None:
        classes = names
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise DatasetError(f"class folder(s) {', '.join(unknown)} of {str(root)!r} are not "
                           f"among the model's {len(classes)} classes "
                           f"({', '.join(classes[:8])}{'...' if len(classes) > 8 else ''})")
    items = [Item(str(p.relative_to(root)), classes.index(d.name), str(p.resolve()))
             for d in subdirs for p in _media(d)]
    return Dataset(items, classes, {"kind": "folder", "path": str(root.resolve()),
                                    "count": len(items), "digest": _digest(items)})


# -- manifests ------------------------------------------------------------------------------------
def _manifest_lines(path):
    try:
        with path.open(newline="") as fh:
            lines = [(n, r) for n, r in enumerate(csv.reader(fh), start=1)
                     if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read the manifest {str(path)!r}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    cols = (0, 1)
    if lines and "path" in [c.strip().lower() for c in lines[0][1]]:
        head = [c.strip().lower() for c in lines[0][1]]
        if "label" not in head:
            raise DatasetError(f"the manifest {str(path)!r} names no 'label' column; write "
                               f"path,label lines")
        cols = (head.index("path"), head.index("label"))
        lines = lines[1:]
    return [(n, r[cols[0]].strip() if len(r) > cols[0] else "",
             r[cols[1]].strip() if len(r) > cols[1] else "") for n, r in lines]


def _label(text, classes, where):
    if text.lstrip("-").isdigit():
        value = int(text)
        if value < 0:
            raise DatasetError(f"{where}: label {value} is negative")
        return value
    if classes is not None and text in classes:
        return classes.index(text)
    raise DatasetError(f"{where}: label {text!r} is not among the classes "
                       f"({', '.join(classes[:8])}{'...' if len(classes) > 8 else ''})")


def from_manifest(path, classes=None):
    """A data set from a CSV manifest of ``path,label`` lines (see the module docstring).

    Without ``classes``, names used as labels define the classes in sorted order.
    Raises :class:`DatasetError` naming the line of a missing label or file, an
    unknown class name, or a manifest without lines.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DatasetError(f"no manifest file at {str(path)!r}")
    classes = read_classes(classes)
    lines = _manifest_lines(path)
    if not lines:
        raise DatasetError(f"the manifest {str(path)!r} lists no videos")
    for n, src, lab in lines:
        if not src:
            raise DatasetError(f"line {n} of {str(path)!r} has no path")
        if not lab:
            raise DatasetError(f"line {n} of {str(path)!r} ({src}) has no label; every "
                               f"video needs its class (index or name)")
    if classes is None:
        named = sorted({lab for _, _, lab in lines if not lab.lstrip("-").isdigit()})
        classes = named or None
    items, seen = [], set()
    for n, src, lab in lines:
        where = f"line {n} of {str(path)!r}"
        file = (path.parent / src).resolve()
        if not file.is_file():
            raise DatasetError(f"{where}: no file at {str(file)!r}")
        if src in seen:
            raise DatasetError(f"{where}: {src} is listed twice")
        seen.add(src)
        items.append(Item(src, _label(lab, classes, where), str(file)))
    return Dataset(items, classes, {"kind": "manifest", "path": str(path.resolve()),
                                    "count": len(items), "digest": _digest(items)})


# -- iterables ---------------------------------------------------------------------------------
def _iter_items(pairs):
    for i, pair in enumerate(pairs):
        try:
            clip, label = pair
        except (TypeError, ValueError):
            raise DatasetError(f"item {i} of the iterable is not a (clip, label) pair") from None
        if label is not None and (isinstance(label, (bool, np.bool_))
                                  or not isinstance(label, (int, np.integer)) or label < 0):
            raise DatasetError(f"item {i}: the label must be a class index >= 0 or None, "
                               f"got {label!r}")
        yield Item(f"{i:06d}", None if label is None else int(label), np.asarray(clip))


def from_iterable(pairs, classes=None):
    """A data set of ``(clip, label)`` pairs, consumed lazily (a list keeps its length)."""
    classes = read_classes(classes)
    if isinstance(pairs, (list, tuple)):
        items = list(_iter_items(pairs))
        if not items:
            raise DatasetError("the data set is empty")
        return Dataset(items, classes, {"kind": "iterable", "count": len(items),
                                        "digest": _digest(items)})
    return Dataset(_iter_items(pairs), classes, {"kind": "iterable", "count": None})


def as_dataset(data, classes=None):
    """A :class:`Dataset` from what a user gives: a Dataset, a folder, a ``.csv``
    manifest, or an iterable of ``(clip, label)`` pairs."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, pathlib.Path)):
        p = pathlib.Path(data)
        if p.suffix.lower() == ".csv":
            return from_manifest(p, classes)
        return from_folder(p, classes)
    if isinstance(data, np.ndarray) or not hasattr(data, "__iter__"):
        raise DatasetError(f"data must be a folder, a .csv manifest or an iterable of "
                           f"(clip, label) pairs, got {type(data).__name__}")
    return from_iterable(data, classes)


def check_labels(items, num_outputs, classes):
    """Refuse labels or classes the network's ``num_outputs`` cannot predict."""
    if classes is not None and len(classes) > num_outputs:
        raise DatasetError(f"the data set has {len(classes)} classes but the model predicts "
                           f"{num_outputs}; give the model's class list (--classes) or a "
                           f"model with as many outputs")
    bad = [it for it in items if it.label is not None and it.label >= num_outputs]
    if bad:
        raise DatasetError(f"{bad[0].id}: label {bad[0].label} is not one of the model's "
                           f"{num_outputs} outputs (0..{num_outputs - 1})")


def peek(dataset, n):
    """The first ``n`` items, and the data set with them still at its front."""
    if dataset.sized:
        return dataset.items[:n], dataset
    head = list(itertools.islice(dataset.items, n))
    return head, dataclasses.replace(dataset, items=itertools.chain(head, dataset.items))


# -- decoding ----------------------------------------------------------------------------------
def load_clips(item, sampling):
    """``(starts, clips)`` of an item: ``clips`` is ``(k, C, T, H, W)`` float32."""
    if item.kind == "video":
        return video.read_video(item.source, sampling)
    if item.kind == "npy":
        try:
            arr = np.load(item.source, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise video.VideoError(f"cannot read {item.source!r} as a .npy array: "
                                   f"{exc}") from None
        return video.sample_array(arr, sampling, name=repr(item.source))
    return video.sample_array(item.source, sampling, name=f"item {item.id}")
