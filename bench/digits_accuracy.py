"""DropBack vs dense test accuracy on the bundled digits (the training-side acceptance).

LeNet-300-100 with `accelsim record`'s defaults (LeCun-normal regen init, standardised
inputs, plain SGD lr 0.1, batch 64, 100 epochs), dense and DropBack at 25x, 50x and 100x,
over three seeds. Prints each run, the mean gap to dense (goal at 25x: <= 1.0 point) and
the worst single-seed gap (goal at 25x: <= 1.5 points).

    python bench/digits_accuracy.py [--seeds 3] [--epochs 100]
"""

import argparse
import statistics
import time

from accelsim.training.loop import TrainConfig, prepare, train


def accuracies(seeds, **options):
    return [train(prepare(TrainConfig(seed=s, **options))).test_accuracy for s in seeds]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    seeds = range(args.seeds)
    start = time.perf_counter()
    dense = accuracies(seeds, method="dense", epochs=args.epochs)
    print(f"{'run':16} {'accuracy per seed (%)':32} {'mean':>7} {'gap':>6} {'worst':>6}")
    print(f"{'dense':16} {str(dense):32} {statistics.mean(dense):7.2f}")
    for compression in (25, 50, 100):
        runs = accuracies(seeds, method="dropback", compression=compression, epochs=args.epochs)
        gap = statistics.mean(dense) - statistics.mean(runs)
        worst = max(d - r for d, r in zip(dense, runs, strict=True))
        print(f"{f'dropback {compression}x':16} {str(runs):32} {statistics.mean(runs):7.2f} "
              f"{gap:6.2f} {worst:6.2f}")
    print(f"goal at 25x: mean gap <= 1.0, worst seed <= 1.5; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
