"""SWD (90% of the weights) and filter pruning (50% of the filters) vs dense, LeNet-5 on digits.

`accelsim record`'s defaults (LeCun-normal regen init, standardised inputs, plain SGD at
lr 0.1, batch 64) for 30 epochs over a few seeds; prints each run and the gap to dense
(goal: within 2 points).

    python bench/lenet5_pruning_accuracy.py [--seeds 3] [--epochs 30]
"""

import argparse
import statistics

from accelsim.training.loop import TrainConfig, prepare, train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    seeds = range(args.seeds)
    runs = {}
    for method in ("dense", "swd", "filter_pruning"):
        runs[method] = [train(prepare(TrainConfig(net="lenet-5", method=method, seed=s,
                                                  epochs=args.epochs))).test_accuracy
                        for s in seeds]
    dense = runs["dense"]
    print(f"{'method':16} {'accuracy per seed (%)':34} {'mean':>7} {'gap':>6} {'worst':>6}")
    for method, accuracies in runs.items():
        gap = statistics.mean(dense) - statistics.mean(accuracies)
        worst = max(d - a for d, a in zip(dense, accuracies, strict=True))
        print(f"{method:16} {str(accuracies):34} {statistics.mean(accuracies):7.2f} "
              f"{gap:6.2f} {worst:6.2f}")
    print("goal: SWD and filter pruning within 2 points of dense")


if __name__ == "__main__":
    main()
