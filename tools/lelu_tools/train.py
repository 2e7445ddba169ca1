"""`tools/lelu train`: the same small network trained with GELU, SiLU and LELU, several seeds.

Runs in the overlay's virtual environment (`tools/lelu train` builds it if needed).  The data are
scikit-learn's digits (8x8 images of handwritten digits, 10 classes, 1797 samples; they ship
inside the scikit-learn package, nothing is downloaded), split once into a fixed stratified
training and test set, features standardized on the training set.  The network is an MLP with
the activation after each hidden layer, trained with Adam on the cross-entropy.

For every seed the network is built once (torch.manual_seed(seed)) with placeholders where the
activations go; each activation gets a copy of it with the placeholders swapped, so the three
start from the same weights and see the batches in the same order: only the activation differs.
Training is deterministic (torch.use_deterministic_algorithms, a fixed thread count): two runs
give the same losses bit for bit.  The activations take turns (the order rotates with the seed)
so that a change in the machine's load falls on all of them.

Output: results.json, report.md (final training loss, test loss and test accuracy as mean and
standard deviation over the seeds, the median time per epoch, the machine load) and
loss_curves.png in `--out` (build/reports/train); `--publish` also writes TRAINING.md and
docs/training/ (keeping TRAINING.md's language-model section).

`--task lm` trains a small transformer language model instead: lelu_tools.train_lm.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lelu_tools.reports import publish_report

from .bench_harness import LoadProbe, machine_info
from .train_common import ACTIVATIONS, load_paragraph, stat

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "reports" / "train"
DOCS = REPO / "docs" / "training"
PLOT = "loss_curves.png"
TASKS = ["digits", "lm"]
TEST_FRACTION = 0.25
SPLIT_SEED = 0  # the train/test split is the same for every run


@dataclass(frozen=True)
class Config:
    seeds: int
    epochs: int
    width: int
    depth: int
    batch: int
    lr: float
    threads: int


@dataclass
class Data:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_data() -> Data:
    """scikit-learn's digits, a fixed stratified split, standardized on the training part."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    x_train = torch.tensor(x_tr, dtype=torch.float64)
    x_test = torch.tensor(x_te, dtype=torch.float64)
    mean = x_train.mean(0)
    std = x_train.std(0)
    std = torch.where(std > 0, std, 1.0)  # a few border pixels are always 0 (as StandardScaler does)
    return Data(((x_train - mean) / std).float(), torch.tensor(y_tr, dtype=torch.long),
                ((x_test - mean) / std).float(), torch.tensor(y_te, dtype=torch.long))


def initial_model(seed: int, cfg: Config, features: int, classes: int) -> nn.Sequential:
    """The MLP with nn.Identity where the activations go, initialized from `seed`."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = features
    for _ in range(cfg.depth):
        layers += [nn.Linear(width, cfg.width), nn.Identity()]
        width = cfg.width
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def with_activation(base: nn.Sequential, make: Callable[[], nn.Module]) -> nn.Sequential:
    """A copy of `base` with every placeholder replaced by a new activation module."""
    model = copy.deepcopy(base)
    for i, layer in enumerate(model):
        if isinstance(layer, nn.Identity):
            model[i] = make()
    return model


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on the whole set."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).double().mean().item()
    model.train()
    return loss, acc


def train_one(model: nn.Module, data: Data, cfg: Config, seed: int) -> dict[str, Any]:
    """Train `model`; per epoch: training loss (mean over the batches), test loss and accuracy, seconds."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    order = torch.Generator().manual_seed(seed)  # the batch order: the same for every activation
    n = data.x_train.shape[0]
    epochs = []
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=order)
        total = 0.0
        t0 = time.perf_counter()
        for start in range(0, n, cfg.batch):
            idx = perm[start:start + cfg.batch]
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        seconds = time.perf_counter() - t0
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        epochs.append({"train_loss": total / n, "test_loss": test_loss, "test_acc": test_acc, "seconds": seconds})
    train_loss, train_acc = evaluate(model, data.x_train, data.y_train)
    return {"epochs": epochs, "final": {"train_loss": train_loss, "train_acc": train_acc,
                                        "test_loss": epochs[-1]["test_loss"], "test_acc": epochs[-1]["test_acc"]}}


def run(cfg: Config, data: Data, activations: Sequence[str], log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every (seed, activation) run, the activations' order rotating with the seed."""
    classes = int(data.y_train.max().item()) + 1
    runs = []
    for seed in range(cfg.seeds):
        base = initial_model(seed, cfg, data.x_train.shape[1], classes)
        turn = seed % len(activations)
        for name in [*activations[turn:], *activations[:turn]]:
            model = with_activation(base, ACTIVATIONS[name])
            result = train_one(model, data, cfg, seed)
            f = result["final"]
            log(f"seed {seed} {name:<5} train loss {f['train_loss']:.4g}  test loss {f['test_loss']:.4g}  "
                f"test acc {f['test_acc']:.2%}  {statistics.median(e['seconds'] for e in result['epochs']) * 1e3:.0f}"
                " ms/epoch")
            runs.append({"seed": seed, "activation": name, **result})
    return runs


# ---------------------------------------------------------------------------------------------
# summary and report
# ---------------------------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]], activations: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in activations:
        mine = [r for r in runs if r["activation"] == name]
        out[name] = {
            "runs": len(mine),
            **{key: asdict(stat([r["final"][key] for r in mine])) for key in ("train_loss", "test_loss", "test_acc")},
            "epoch_s_median": statistics.median(e["seconds"] for r in mine for e in r["epochs"]),
        }
    return out


def _g(s: dict[str, float], digits: int = 3) -> str:
    return f"{s['mean']:.{digits}g} ± {s['std']:.2g}"


def _pct(s: dict[str, float]) -> str:
    return f"{s['mean']:.2%} ± {s['std'] * 100:.2f}"


def render_markdown(report: dict[str, Any], image_dir: str) -> str:
    m = report["machine"]
    cfg = report["config"]
    summary = report["summary"]
    names = list(summary)
    hidden = "-".join([str(cfg["width"])] * cfg["depth"])
    lines = [
        f"Measured {m['date']} on {m['cpu']} ({m['cpus']} CPUs), torch {m['torch']} (git {m['torch_git'][:12]}) with "
        f"the LELU series, scikit-learn {report['sklearn']}, Python {m['python']}.",
        "",
        f"Command: `{report['command']}` ({cfg['seeds']} seeds x {cfg['epochs']} epochs per activation, "
        f"{cfg['threads']} thread{'s' if cfg['threads'] > 1 else ''}, deterministic algorithms; "
        f"{report['elapsed_s'] / 60:.1f} minutes in all).",
        "",
        f"Data: scikit-learn's digits ({report['data']['features']} features, {report['data']['classes']} classes; "
        f"shipped inside the package), a fixed stratified split of {report['data']['train']} training and "
        f"{report['data']['test']} test samples, standardized on the training split. Model: an MLP "
        f"{report['data']['features']}-{hidden}-{report['data']['classes']} with the activation after each hidden "
        f"layer; Adam (lr {cfg['lr']}), batches of {cfg['batch']}, cross-entropy. For each seed every activation "
        "starts from the same weights and sees the batches in the same order.",
        "",
    ]
    lines += load_paragraph(report["load"], "Machine load while training",
                            "Times per epoch are wall-clock times on this shared machine: a secondary figure.")
    lines += [
        "## Results",
        "",
        f"Mean ± standard deviation over the {cfg['seeds']} seeds, after epoch {cfg['epochs']}; time per epoch: "
        "the median over all epochs of all seeds (training steps only).",
        "",
        "| activation | final training loss | test loss | test accuracy | time per epoch |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        s = summary[name]
        lines.append(f"| {name} | {_g(s['train_loss'])} | {_g(s['test_loss'])} | {_pct(s['test_acc'])} | "
                     f"{s['epoch_s_median'] * 1e3:.1f} ms |")
    lines += ["", "## Loss curves", ""]
    if report.get("images"):
        for image in report["images"]:
            lines.append(f"![{Path(image).stem}]({image_dir}/{Path(image).name})")
        lines += ["", "Mean over the seeds, the band from the lowest to the highest seed.", ""]
    lines += ["## Per seed", "", "Test accuracy and test loss after the last epoch.", "",
              "| seed | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    by_key = {(r["seed"], r["activation"]): r["final"] for r in report["runs"]}
    for seed in range(cfg["seeds"]):
        cells = [f"{by_key[(seed, n)]['test_acc']:.2%} ({by_key[(seed, n)]['test_loss']:.4g})" for n in names]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Training and test loss per epoch, per activation: mean line, min-max band over the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    keys = (("train_loss", "training loss (mean over the epoch's batches)", True),
            ("test_loss", "test loss", True), ("test_acc", "test accuracy", False))
    for ax, (key, title, log) in zip(axes, keys, strict=True):
        for name in report["summary"]:
            curves = [[e[key] for e in r["epochs"]] for r in report["runs"] if r["activation"] == name]
            epochs = list(range(1, len(curves[0]) + 1))
            columns = list(zip(*curves, strict=True))
            mean = [statistics.fmean(c) for c in columns]
            style = {"linewidth": 1.8, "color": "black"} if name == "LELU" else {"linewidth": 1.2}
            (line,) = ax.plot(epochs, mean, label=name, **style)
            ax.fill_between(epochs, [min(c) for c in columns], [max(c) for c in columns],
                            color=line.get_color(), alpha=0.2, linewidth=0)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", linewidth=0.3)
        ax.tick_params(labelsize=7)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools/lelu train", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--task", choices=TASKS, default="digits",
                        help="digits (default: this MLP) or lm (a small transformer language model; "
                             "`--task lm --help`: its options)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run in seconds (2 seeds, 3 epochs, width 32): checks, not results")
    parser.add_argument("--seeds", type=int, help="seeds per activation (default 10, --quick 2)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 40, --quick 3)")
    parser.add_argument("--width", type=int, help="hidden layer width (default 256, --quick 32)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 0.001)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: deterministic timing)")
    parser.add_argument("--activations", nargs="+", choices=list(ACTIVATIONS), default=list(ACTIVATIONS),
                        help="default: all")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plot")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default: build/reports/train)")
    parser.add_argument("--publish", action="store_true",
                        help="also write TRAINING.md and docs/training/ from this run")
    args = parser.parse_args(argv)
    for name, quick, full in (("seeds", 2, 10), ("epochs", 3, 40), ("width", 32, 256)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if min(args.seeds, args.epochs, args.width, args.depth, args.batch, args.threads) < 1 or args.lr <= 0:
        parser.error("--seeds, --epochs, --width, --depth, --batch, --threads and --lr must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    task = argparse.ArgumentParser(prog="tools/lelu train", add_help=False)
    task.add_argument("--task", choices=TASKS, default="digits")
    if task.parse_known_args(argv)[0].task == "lm":
        from lelu_tools import train_lm

        return train_lm.main(argv)
    args = parse_args(argv)
    if not hasattr(nn, "LELU"):
        print("error: this torch has no nn.LELU: run through `tools/lelu train` (the overlay)", file=sys.stderr)
        return 1
    try:
        import sklearn
    except ImportError:
        print("error: scikit-learn is not installed: run through `tools/lelu train` (the overlay installs it)",
              file=sys.stderr)
        return 1
    cfg = Config(args.seeds, args.epochs, args.width, args.depth, args.batch, args.lr, args.threads)
    machine = machine_info()
    print(f"[train] {len(args.activations)} activations x {cfg.seeds} seeds x {cfg.epochs} epochs on "
          f"{machine['cpu']}, torch {machine['torch']}; report in {args.out}", flush=True)
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    data = load_data()
    probe = LoadProbe()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    probe.start()
    try:
        runs = run(cfg, data, args.activations, lambda line: print(f"[train] {line}", flush=True))
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)
    others = probe.stop()
    report: dict[str, Any] = {
        "machine": machine,
        "sklearn": sklearn.__version__,
        "command": " ".join(["tools/lelu train", *argv]),
        "config": asdict(cfg),
        "data": {"train": data.x_train.shape[0], "test": data.x_test.shape[0], "features": data.x_train.shape[1],
                 "classes": int(data.y_train.max().item()) + 1},
        "elapsed_s": time.perf_counter() - start,
        "load": {"others_cpu_share": others, "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]},
        "summary": summarize(runs, args.activations),
        "runs": runs,
        "images": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.no_plots:
        plot(report, args.out / PLOT)
        report["images"] = [str(args.out / PLOT)]
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    (args.out / "report.md").write_text("# LELU training comparison\n\n" + render_markdown(report, "."))
    if args.publish:
        publish(report)
    for name, s in report["summary"].items():
        print(f"[train] {name:<5} test acc {_pct(s['test_acc'])}  test loss {_g(s['test_loss'])}  "
              f"train loss {_g(s['train_loss'])}  {s['epoch_s_median'] * 1e3:.1f} ms/epoch")
    print(f"[train] {report['elapsed_s'] / 60:.1f} minutes; wrote {args.out / 'report.md'}, results.json"
          f"{' and ' + PLOT if report['images'] else ''}")
    return 0


def publish(report: dict[str, Any]) -> None:
    """TRAINING.md at the repository root and its plot under docs/training/; its language-model
    section (`tools/lelu train --task lm --publish`) is kept."""
    from lelu_tools import train_lm

    document = REPO / "TRAINING.md"
    publish_report(document, "LELU in training", "tools/lelu train --publish",
                   "GELU, SiLU and LELU in the same small network on the same data",
                   render_markdown(report, "docs/training") + train_lm.SECTION.kept(document),
                   [Path(image) for image in report["images"]], DOCS)
    print(f"[train] wrote {REPO / 'TRAINING.md'} and {len(report['images'])} image(s) in {DOCS}")


if __name__ == "__main__":
    sys.exit(main())
