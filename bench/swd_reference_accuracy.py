"""SWD as accelsim runs it vs the reference's choices, LeNet-5 on digits, 90% pruned.

The two differences from the reference implementation, each an option of
SelectiveWeightDecay: the cap of the penalty coefficient wd * a(t) at 1/lr
(``coefficient_cap``: accelsim "1/lr", reference "none") and the step at which a(t)
reaches a_max (``schedule_end``: accelsim "prune" = the hard-prune step, 90% of the run
with the default fine-tuning; reference "run" = every training step). Also the paper's
a_max = 1e5 against accelsim's 1e6. `accelsim record`'s defaults otherwise (plain SGD
lr 0.1, batch 64, 30 epochs, fine-tuning the last 10%). Prints each variant per seed,
mean, spread and the gap to dense; test set 360 images (one image = 0.28 points).

    python bench/swd_reference_accuracy.py [--seeds 3] [--epochs 30]
"""

import argparse
import math
import statistics
import time

import torch

from accelsim.training.loop import TrainConfig, TrainingError, prepare, train

VARIANTS = {
    "accelsim (cap 1/lr, T = prune step, a_max 1e6)": {},
    "cap none": {"coefficient_cap": "none"},
    "T = run": {"schedule_end": "run"},
    "reference: cap none, T = run": {"coefficient_cap": "none", "schedule_end": "run"},
    "reference, a_max 1e5": {"coefficient_cap": "none", "schedule_end": "run",
                             "a_max": 1e5},
    "cap 1/lr, T = run, a_max 1e5": {"schedule_end": "run", "a_max": 1e5},
}


def accuracies(seeds, epochs, **options):
    """Test accuracy per seed; NaN where training diverged (the step is printed)."""
    out = []
    for seed in seeds:
        try:
            out.append(train(prepare(TrainConfig(net="lenet-5", seed=seed, epochs=epochs,
                                                 **options))).test_accuracy)
        except TrainingError as error:
            print(f"  seed {seed}: {error}")
            out.append(float("nan"))
    return out


def shown(values):
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = range(args.seeds)
    start = time.perf_counter()
    dense = accuracies(seeds, args.epochs, method="dense")
    print("SWD 90% of the weights; NaN: training diverged (printed above the row)")
    print(f"{'run':56} {'accuracy per seed (%)':24} {'mean':>6} {'std':>5} {'gap':>6}")
    print(f"{'dense':56} {shown(dense):24} {statistics.mean(dense):6.2f} "
          f"{statistics.pstdev(dense):5.2f}")
    for name, options in VARIANTS.items():
        runs = accuracies(seeds, args.epochs, method="swd", compression=10.0,
                          method_options=options)
        if any(math.isnan(r) for r in runs):
            print(f"{'SWD 90%, ' + name:56} {shown(runs):24} diverged")
            continue
        print(f"{'SWD 90%, ' + name:56} {shown(runs):24} {statistics.mean(runs):6.2f} "
              f"{statistics.pstdev(runs):5.2f} "
              f"{statistics.mean(dense) - statistics.mean(runs):6.2f}")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
