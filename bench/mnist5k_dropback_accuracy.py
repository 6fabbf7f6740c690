"""DropBack vs dense test accuracy on mnist-5k: the paper's LeNet-300-100 result, 3 seeds.

LeNet-300-100 with `accelsim record`'s recipe for mnist-5k (LeCun-normal regen init,
standardised inputs, SGD momentum 0.9, lr 0.1 halved every 10 epochs, batch 64, 30 epochs;
accelsim.training.loop.RECIPES), dense and DropBack at 10x, 25x and 50x, over three seeds.
Prints each run, mean and spread (min..max, population std) per method, the gap to dense
(goal at 25x: <= 1.0 point at seed 0 and on average), the test set's granularity, and the
reference hyper-parameters beside ours. One torch thread per process: on a shared 2-core
machine a second intra-op thread made these small steps ~40x slower.

    python bench/mnist5k_dropback_accuracy.py [--seeds 3] [--epochs 30] [--budgets 10,25,50]
    python bench/mnist5k_dropback_accuracy.py --lr 0.1 --momentum 0 --lr-schedule constant
"""

import argparse
import statistics
import time

import torch

from accelsim.training.loop import RECIPES, TrainConfig, prepare, train

REFERENCE = ("reference (Golub et al., Chainer MNIST MLP): SGD lr 0.4 halved every 25 epochs, "
             "batch 100, no momentum, inputs in [0, 1], full MNIST (60,000 / 10,000)")


def accuracies(seeds, **options):
    return [train(prepare(TrainConfig(net="lenet-300-100", dataset="mnist-5k", seed=s,
                                      **options))).test_accuracy for s in seeds]


def spread(values):
    return (f"{statistics.mean(values):6.2f}  {min(values):5.1f}..{max(values):5.1f}  "
            f"{statistics.pstdev(values):4.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--budgets", default="10,25,50", help="DropBack compressions")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--lr-schedule")
    parser.add_argument("--batch-size", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = {key: value for key, value in (
        ("epochs", args.epochs), ("lr", args.lr), ("momentum", args.momentum),
        ("lr_schedule", args.lr_schedule), ("batch_size", args.batch_size))
        if value is not None}
    resolved = TrainConfig(net="lenet-300-100", dataset="mnist-5k", **options).resolved()
    seeds = range(args.seeds)
    start = time.perf_counter()
    print(f"ours: SGD lr {resolved.learning_rate:g}, momentum {resolved.momentum:g}, "
          f"schedule {resolved.lr_schedule}, batch {resolved.batch_size}, "
          f"{resolved.epochs} epochs, standardised inputs, mnist-5k (4,000 / 1,000)"
          f"{'' if not options else ' (recipe overridden: ' + str(options) + ')'}")
    print(f"recipe in accelsim: {RECIPES[('lenet-300-100', 'mnist-5k')]}")
    print(REFERENCE)
    print("test set: 1,000 images, so one image is 0.1 points")
    print(f"{'run':14} {'accuracy per seed (%)':24} {'mean':>6}  {'min..max':>10}  {'std':>4}"
          f"  {'gap per seed':18} {'mean gap':>8}")
    dense = accuracies(seeds, method="dense", **options)
    print(f"{'dense':14} {str(dense):24} {spread(dense)}")
    for compression in (float(c) for c in args.budgets.split(",")):
        runs = accuracies(seeds, method="dropback", compression=compression, **options)
        gaps = [round(d - r, 2) for d, r in zip(dense, runs, strict=True)]
        print(f"{f'dropback {compression:g}x':14} {str(runs):24} {spread(runs)}  "
              f"{str(gaps):18} {statistics.mean(gaps):8.2f}")
    print(f"goal at 25x: gap <= 1.0 point at seed 0; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
