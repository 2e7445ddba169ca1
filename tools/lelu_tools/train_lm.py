"""`tools/lelu train --task lm`: a small transformer language model trained with GELU, SiLU and LELU.

Runs in the overlay's virtual environment (`tools/lelu train` builds it if needed).  The model is a
decoder-only, GPT-style transformer (pre-norm blocks: causal self-attention through
F.scaled_dot_product_attention, then an MLP whose activation is nn.GELU, nn.SiLU or nn.LELU; learned
positions, the output layer tied to the byte embedding) trained as a byte-level language model
with AdamW, a linear warm-up and a cosine decay, gradients clipped at norm 1.

The corpus is a text every machine has offline: the Python standard library's own source, the
top-level `*.py` files of the running interpreter's stdlib directory (sysconfig's "stdlib" path),
sorted by name and concatenated as bytes.  The report records the directory, the files, their total
size and the SHA-256 of the concatenation.  The last 10% of its bytes are the validation split, the
rest the training split.  The unigram baseline is the cross-entropy of the validation bytes under the
training bytes' frequencies (add-one smoothed), in bits per byte.

For every seed each activation's model is built after torch.manual_seed(seed), so the three start
from the same weights (the activations have no parameters), and draws the same batches (a generator
seeded with the seed).  Training is deterministic (torch.use_deterministic_algorithms, a fixed thread
count): two runs give the same losses bit for bit.  The activations take turns (the order rotates
with the seed).  The validation loss is measured every `--eval-every` steps on fixed windows of the
validation split, and at the end on more of them.

The time per training step (forward, loss, backward, clipping, optimizer step) is the median over the
training steps of all seeds, in the mode trained: eager by default, the model under torch.compile with
`--compile` (the optimizer stays eager).  The other mode's step time comes from a short timing run
(`--time-steps` steps with seed 0's model after 2 untimed steps, which compile where compiled), so that
the report has both; `--time-steps 0` skips it.

Output: results.json, report.md and lm_val_loss.png in `--out` (build/reports/train-lm); `--publish`
also writes TRAINING.md's language-model section (the digits report there is kept) and its plot in
docs/training/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lelu_tools.reports import Section

from .bench_harness import LoadProbe, machine_info
from .train_common import ACTIVATIONS, load_paragraph, stat

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "build" / "reports" / "train-lm"
DOCS = REPO / "docs" / "training"
PLOT = "lm_val_loss.png"
SECTION = Section("lm", "## A small transformer language model (`tools/lelu train --task lm`)")
VAL_FRACTION = 0.1
VOCAB = 256  # bytes
WARMUP_STEPS = 2  # untimed steps before a timing run (compilation, where compiled)
LN2 = math.log(2)


@dataclass(frozen=True)
class Config:
    seeds: int
    steps: int
    layers: int
    width: int  # the model dimension; the MLP's hidden layer is 4x
    heads: int
    context: int  # bytes per training window
    batch: int
    lr: float
    warmup: int  # steps of linear warm-up; then a cosine decay to lr/10
    eval_every: int
    eval_windows: int  # validation windows for the curve
    final_windows: int  # validation windows for the final loss
    threads: int
    compile: bool
    time_steps: int  # steps of the timing run in the other mode (0: none)


#: the defaults: about 30 minutes for 3 activations x 3 seeds on a 2-CPU machine (AMD EPYC), 1 thread:
#: 9 runs of 900 steps at about 0.2 s (eager or compiled) and 9 s of evaluation each, then the timing
#: run's 3 compilations (10-25 s each)
FULL = {"seeds": 3, "steps": 900, "layers": 4, "width": 128, "heads": 4, "context": 128, "batch": 16,
        "eval_every": 50, "eval_windows": 64, "final_windows": 512, "time_steps": 20}
#: --quick: seconds, a check that everything runs, no result
QUICK = {"seeds": 2, "steps": 12, "layers": 1, "width": 32, "heads": 2, "context": 32, "batch": 8,
         "eval_every": 4, "eval_windows": 8, "final_windows": 16, "time_steps": 0}


# ---------------------------------------------------------------------------------------------
# the corpus
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    root: str  # the stdlib directory
    files: tuple[str, ...]  # file names, in order
    sizes: tuple[int, ...]  # their sizes in bytes
    sha256: str  # of the concatenation
    train: torch.Tensor  # uint8
    val: torch.Tensor  # uint8

    @property
    def total(self) -> int:
        return sum(self.sizes)

    def describe(self) -> dict[str, Any]:
        return {"root": self.root, "files": list(self.files), "sizes": list(self.sizes), "count": len(self.files),
                "bytes": self.total, "sha256": self.sha256, "train": int(self.train.numel()),
                "val": int(self.val.numel()), "val_starts_in": self.val_starts_in(),
                "unigram_bits": unigram_bits(self.train, self.val)}

    def val_starts_in(self) -> str:
        """The file in which the validation split begins."""
        offset = int(self.train.numel())
        for name, size in zip(self.files, self.sizes, strict=True):
            if offset < size:
                return name
            offset -= size
        return self.files[-1]


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def corpus_files(root: Path) -> list[Path]:
    """The top-level .py files of `root`, sorted by name (no packages, no site-packages)."""
    return sorted((p for p in root.glob("*.py") if p.is_file()), key=lambda p: p.name)


def load_corpus(root: Path | None = None) -> Corpus:
    """The files' bytes concatenated; the last VAL_FRACTION of them the validation split."""
    root = stdlib_dir() if root is None else root
    files = corpus_files(root)
    if not files:
        raise ValueError(f"{root}: no .py files (the corpus is the Python standard library's source)")
    blobs = [p.read_bytes() for p in files]
    data = b"".join(blobs)
    split = len(data) - int(len(data) * VAL_FRACTION)
    tensor = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    return Corpus(str(root), tuple(p.name for p in files), tuple(len(b) for b in blobs),
                  hashlib.sha256(data).hexdigest(), tensor[:split].clone(), tensor[split:].clone())


def unigram_bits(train: torch.Tensor, val: torch.Tensor) -> float:
    """Bits per byte of `val` under the byte frequencies of `train` (add-one smoothed)."""
    counts = torch.bincount(train.long(), minlength=VOCAB).double() + 1
    logp = (counts / counts.sum()).log2()
    return float(-logp[val.long()].mean().item())


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


class Block(nn.Module):  # type: ignore[misc]  # (mypy does not follow torch: nn.Module is Any)
    """Pre-norm transformer block: causal self-attention, then the MLP with the activation."""

    def __init__(self, width: int, heads: int, make: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), make(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):  # type: ignore[misc]
    def __init__(self, cfg: Config, make: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, cfg.width)
        self.pos = nn.Parameter(torch.zeros(cfg.context, cfg.width))
        self.blocks = nn.Sequential(*[Block(cfg.width, cfg.heads, make) for _ in range(cfg.layers)])
        self.ln = nn.LayerNorm(cfg.width)
        # GPT-2's initialization: N(0, 0.02), the projections into the residual stream scaled down
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg.layers) if name.endswith(("proj.weight", "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.embed(idx) + self.pos[: idx.shape[1]]
        return self.ln(self.blocks(x)) @ self.embed.weight.t()  # logits, the output tied to the embedding


def initial_model(seed: int, cfg: Config, make: Callable[[], nn.Module]) -> GPT:
    """The model with activation `make`, initialized from `seed` (the same weights for every activation)."""
    torch.manual_seed(seed)
    return GPT(cfg, make)


def parameters(cfg: Config) -> int:
    """The model's parameter count (built on the meta device: no memory, no random numbers drawn)."""
    with torch.device("meta"):
        return sum(int(p.numel()) for p in GPT(cfg, nn.Identity).parameters())


def loss_of(model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats) of predicting each window's next bytes; `windows`: (n, context + 1)."""
    logits = model(windows[:, :-1])
    return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), windows[:, 1:].reshape(-1))


def val_windows(val: torch.Tensor, context: int, count: int) -> torch.Tensor:
    """`count` windows evenly spaced over the validation split (the same for every run), int64."""
    starts = torch.linspace(0, val.numel() - context - 1, count).long()
    return val[starts[:, None] + torch.arange(context + 1)].long()


def evaluate(model: nn.Module, windows: torch.Tensor, chunk: int = 64) -> float:
    """Mean cross-entropy (nats per byte) over `windows`."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, windows.shape[0], chunk):
            part = windows[start:start + chunk]
            total += loss_of(model, part).item() * part.shape[0]
    model.train()
    return total / int(windows.shape[0])


class Batches:
    """Random training windows, from a generator seeded with the run's seed."""

    def __init__(self, train: torch.Tensor, cfg: Config, seed: int) -> None:
        self.train, self.cfg = train, cfg
        self.generator = torch.Generator().manual_seed(seed)
        self.span = torch.arange(cfg.context + 1)

    def next(self) -> torch.Tensor:
        starts = torch.randint(0, self.train.numel() - self.cfg.context - 1, (self.cfg.batch,),
                               generator=self.generator)
        return self.train[starts[:, None] + self.span].long()


class Trainer:
    """One model's optimizer, schedule and step; `step` is what the step time measures."""

    def __init__(self, model: nn.Module, cfg: Config, compiled: bool) -> None:
        self.model = model
        self.forward: nn.Module = torch.compile(model) if compiled else model
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
        warmup, steps = max(1, cfg.warmup), max(cfg.steps, cfg.warmup + 1)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / (steps - warmup))))

        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.opt, factor)

    def step(self, batch: torch.Tensor) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = loss_of(self.forward, batch)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.schedule.step()
        return float(loss.item())


def train_one(model: nn.Module, corpus: Corpus, cfg: Config, seed: int,
              progress: Callable[[int, float, float], None]) -> dict[str, Any]:
    """Train `model`; every cfg.eval_every steps the validation loss and the mean training loss since
    the last point (nats), the seconds of every step; `progress(step, val_loss, train_loss)`."""
    trainer = Trainer(model, cfg, cfg.compile)
    batches = Batches(corpus.train, cfg, seed)
    curve_windows = val_windows(corpus.val, cfg.context, cfg.eval_windows)
    curve: list[dict[str, float]] = []
    seconds: list[float] = []
    since: list[float] = []
    for step in range(1, cfg.steps + 1):
        batch = batches.next()
        t0 = time.perf_counter()
        since.append(trainer.step(batch))
        seconds.append(time.perf_counter() - t0)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val = evaluate(model, curve_windows)
            curve.append({"step": step, "val_loss": val, "train_loss": statistics.fmean(since)})
            progress(step, val, curve[-1]["train_loss"])
            since = []
    final = evaluate(model, val_windows(corpus.val, cfg.context, cfg.final_windows))
    return {"curve": curve, "step_s": seconds[WARMUP_STEPS:] if len(seconds) > WARMUP_STEPS else seconds,
            "first_step_s": seconds[0],
            "final": {"val_loss": final, "val_bpb": final / LN2, "train_loss": curve[-1]["train_loss"]}}


def time_steps(corpus: Corpus, cfg: Config, name: str, compiled: bool) -> dict[str, float]:
    """A timing-only run: seed 0's model, WARMUP_STEPS untimed steps (the first compiles, where
    compiled), then cfg.time_steps timed ones; median seconds per step and the first step's seconds."""
    if compiled:
        torch.compiler.reset()
    trainer = Trainer(initial_model(0, cfg, ACTIVATIONS[name]), cfg, compiled)
    batches = Batches(corpus.train, cfg, 0)
    seconds = []
    for _ in range(WARMUP_STEPS + cfg.time_steps):
        batch = batches.next()
        t0 = time.perf_counter()
        trainer.step(batch)
        seconds.append(time.perf_counter() - t0)
    return {"step_s_median": statistics.median(seconds[WARMUP_STEPS:]), "first_step_s": seconds[0]}


def run(cfg: Config, corpus: Corpus, activations: Sequence[str], log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every (seed, activation) run, the activations' order rotating with the seed."""
    runs: list[dict[str, Any]] = []
    total = cfg.seeds * len(activations) * cfg.steps
    start = time.perf_counter()
    for seed in range(cfg.seeds):
        turn = seed % len(activations)
        for name in [*activations[turn:], *activations[:turn]]:
            if cfg.compile:
                torch.compiler.reset()  # a new model: compile afresh (no cache-size limit reached)
            model = initial_model(seed, cfg, ACTIVATIONS[name])
            done = len(runs) * cfg.steps

            def progress(step: int, val: float, train: float, seed: int = seed, name: str = name,
                         done: int = done) -> None:
                elapsed = time.perf_counter() - start
                left = elapsed / (done + step) * (total - done - step)
                log(f"seed {seed} {name:<5} step {step:>5}/{cfg.steps}  val {val / LN2:.3f} bits/byte  "
                    f"train {train / LN2:.3f}  {elapsed / 60:.1f} min, about {left / 60:.1f} min left")

            result = train_one(model, corpus, cfg, seed, progress)
            f = result["final"]
            log(f"seed {seed} {name:<5} final val loss {f['val_loss']:.4f} ({f['val_bpb']:.3f} bits/byte)  "
                f"{statistics.median(result['step_s']) * 1e3:.0f} ms/step")
            runs.append({"seed": seed, "activation": name, **result})
    return runs


def timing_runs(cfg: Config, corpus: Corpus, activations: Sequence[str],
                log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """The step time in the mode not trained, per activation (empty with cfg.time_steps 0)."""
    out: dict[str, dict[str, float]] = {}
    if cfg.time_steps <= 0:
        return out
    mode = "eager" if cfg.compile else "compiled"
    for name in activations:
        out[name] = time_steps(corpus, cfg, name, compiled=not cfg.compile)
        log(f"timing run {mode} {name:<5} {out[name]['step_s_median'] * 1e3:.0f} ms/step "
            f"(first step {out[name]['first_step_s']:.1f} s)")
    if not cfg.compile:
        torch.compiler.reset()
    return out


# ---------------------------------------------------------------------------------------------
# summary and report
# ---------------------------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]], timing: dict[str, dict[str, float]], activations: Sequence[str],
              compiled: bool) -> dict[str, dict[str, Any]]:
    trained, other = ("compiled", "eager") if compiled else ("eager", "compiled")
    out: dict[str, dict[str, Any]] = {}
    for name in activations:
        mine = [r for r in runs if r["activation"] == name]
        steps: dict[str, Any] = {trained: statistics.median(s for r in mine for s in r["step_s"]), other: None}
        first = statistics.median(r["first_step_s"] for r in mine) if compiled else None
        if name in timing:
            steps[other] = timing[name]["step_s_median"]
            if not compiled:
                first = timing[name]["first_step_s"]
        out[name] = {
            "runs": len(mine),
            **{key: asdict(stat([r["final"][key] for r in mine])) for key in ("val_loss", "val_bpb", "train_loss")},
            "step_s": steps,
            "compile_first_step_s": first,
        }
    return out


def compare(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pair of activations: the difference of their mean final bits per byte (second minus
    first) against the seed-to-seed spread (the sum of their standard deviations)."""
    names = list(summary)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            sa, sb = summary[a]["val_bpb"], summary[b]["val_bpb"]
            diff = sb["mean"] - sa["mean"]
            spread = sa["std"] + sb["std"]
            pairs.append({"first": a, "second": b, "difference": diff, "spread": spread,
                          "exceeds": abs(diff) > spread})
    return pairs


def verdict(report: dict[str, Any]) -> str:
    """The sentence on the differences, computed from the numbers."""
    pairs = report["comparison"]
    if not pairs:
        return "One activation only: nothing to compare."
    if report["config"]["seeds"] < 2:
        return "One seed per activation: the seed-to-seed spread is not measured, so no difference can be judged."
    exceeding = [p for p in pairs if p["exceeds"]]
    if not exceeding:
        return ("No difference between the activations' mean final validation losses exceeds the seed-to-seed "
                "spread (the sum of the two standard deviations): at this size and with "
                f"{report['config']['seeds']} seeds, the runs do not tell "
                f"{_and(list(report['summary']))} apart.")
    parts = []
    for p in exceeding:
        lower, higher = (p["second"], p["first"]) if p["difference"] < 0 else (p["first"], p["second"])
        parts.append(f"{lower} is lower than {higher} by {abs(p['difference']):.3f} bits/byte "
                     f"(spread {p['spread']:.3f})")
    within = [f"{p['first']}/{p['second']}" for p in pairs if not p["exceeds"]]
    return ("Differences that exceed the seed-to-seed spread (the sum of the two standard deviations): "
            + "; ".join(parts) + "."
            + (f" Within the spread: {', '.join(within)}." if within else ""))


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def learned(finals: Sequence[float], baseline: float) -> str:
    """Whether the models learned beyond the byte frequencies, from the final bits per byte of every run."""
    span = f"Every run ends between {min(finals):.3f} and {max(finals):.3f} bits per byte on the validation split"
    if max(finals) < baseline:
        return (f"{span}, below the unigram baseline ({baseline:.3f} bits per byte) by "
                f"{1 - max(finals) / baseline:.0%} or more.")
    return f"{span}, against {baseline:.3f} for the unigram baseline: not every run got below it."


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    ms = seconds * 1e3
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.3g} ms"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _pm(s: dict[str, float], digits: int = 3) -> str:
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def render_markdown(report: dict[str, Any], image_dir: str, heading: str = "###") -> str:
    m = report["machine"]
    cfg = report["config"]
    data = report["data"]
    model = report["model"]
    summary = report["summary"]
    names = list(summary)
    trained = "compiled" if cfg["compile"] else "eager"
    other = "eager" if cfg["compile"] else "compiled"
    finals = [r["final"]["val_bpb"] for r in report["runs"]]
    lines = [
        f"Trained {m['date']} on {m['cpu']} ({m['cpus']} CPUs), torch {m['torch']} (git {m['torch_git'][:12]}) with "
        f"the LELU series, Python {m['python']}.",
        "",
        f"Run: `{report['command']}` ({_n(cfg['seeds'], 'seed')} x {_n(cfg['steps'], 'step')} per activation, "
        f"{trained}, {_n(cfg['threads'], 'thread')}, deterministic algorithms; "
        f"{report['elapsed_s'] / 60:.1f} minutes in all).",
        "",
        f"**Language model summary.** {verdict(report)} {learned(finals, data['unigram_bits'])}",
        "",
        f"Corpus: the Python standard library's source, the {data['count']} top-level `.py` files of "
        f"`{data['root']}` (Python {m['python']}; `{data['files'][0]}` to `{data['files'][-1]}`, sorted by name), "
        f"{data['bytes']:,} bytes, SHA-256 `{data['sha256']}`; the list is in results.json. The first "
        f"{data['train']:,} bytes are the training split, the last {data['val']:,} (from inside "
        f"`{data['val_starts_in']}` on) the validation split. Unigram baseline: "
        f"{data['unigram_bits']:.3f} bits per byte (the validation bytes under the training bytes' frequencies).",
        "",
        f"Model: a byte-level decoder-only transformer, {_n(cfg['layers'], 'pre-norm block')} of width "
        f"{cfg['width']} ({_n(cfg['heads'], 'head')} of causal self-attention, F.scaled_dot_product_attention; an MLP "
        f"{cfg['width']}-{4 * cfg['width']}-{cfg['width']} with the activation), context {cfg['context']} bytes, "
        f"{model['parameters']:,} parameters, the output layer tied to the embedding. AdamW (lr {cfg['lr']}, "
        f"betas 0.9/0.95, no weight decay), {_n(cfg['warmup'], 'warm-up step')} then a cosine decay to lr/10, "
        f"gradients clipped at norm 1, batches of {cfg['batch']} windows. For each seed every activation starts "
        "from the same weights and sees the same batches. Validation loss: every "
        f"{cfg['eval_every']} steps on {cfg['eval_windows']} fixed windows, at the end on {cfg['final_windows']}.",
        "",
    ]
    lines += load_paragraph(report["load"], "Load on the machine while training",
                            "Step times are wall-clock times on this shared machine.")
    lines += [
        f"{heading} Language model results",
        "",
        f"Mean ± standard deviation over {_n(cfg['seeds'], 'seed')} after step {cfg['steps']}: validation loss "
        "(nats per byte) and bits per byte; the training loss is the mean over the last "
        f"{cfg['eval_every']} steps. Time per training step (forward, loss, backward, clipping, AdamW): {trained}, "
        f"the median over the training steps of all seeds (the first {WARMUP_STEPS} of each run left out); "
        + (f"{other}, the median of a {cfg['time_steps']}-step timing run with seed 0's model after "
           f"{WARMUP_STEPS} untimed steps" if cfg["time_steps"] > 0 else f"{other}: not measured (`--time-steps 0`)")
        + ". First compiled step: its time, the compilation included (Inductor's on-disk cache can shorten it).",
        "",
        "| activation | validation loss | bits per byte | training loss | eager step | compiled step | "
        "first compiled step |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        s = summary[name]
        first = s["compile_first_step_s"]
        lines.append(f"| {name} | {_pm(s['val_loss'], 4)} | {_pm(s['val_bpb'])} | {_pm(s['train_loss'], 4)} | "
                     f"{_ms(s['step_s']['eager'])} | {_ms(s['step_s']['compiled'])} | "
                     f"{'—' if first is None else f'{first:.1f} s'} |")
    if report["comparison"]:
        lines += ["", "Differences of the mean bits per byte (second minus first) against the seed-to-seed spread "
                  "(the sum of the two standard deviations):", "",
                  "| pair | difference | spread | exceeds the spread |", "|---|---|---|---|"]
    for p in report["comparison"]:
        difference = p["difference"] if abs(p["difference"]) >= 5e-5 else 0.0  # no "-0.0000"
        lines.append(f"| {p['second']} − {p['first']} | {difference:+.4f} | {p['spread']:.4f} | "
                     f"{'yes' if p['exceeds'] else 'no'} |")
    lines += ["", f"{heading} Language model validation loss curves", ""]
    if report.get("images"):
        for image in report["images"]:
            lines.append(f"![{Path(image).stem}]({image_dir}/{Path(image).name})")
        lines += ["", "Bits per byte on the validation windows: the mean over the seeds, the band from the lowest "
                  "to the highest seed; right: the second half of training.", ""]
    lines += [f"{heading} Language model per seed", "", "Final validation bits per byte.", "",
              "| seed | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    by_key = {(r["seed"], r["activation"]): r["final"] for r in report["runs"]}
    for seed in range(cfg["seeds"]):
        lines.append(f"| {seed} | " + " | ".join(f"{by_key[(seed, n)]['val_bpb']:.4f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Validation bits per byte against the step, per activation: mean line, min-max band over the seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    baseline = report["data"]["unigram_bits"]
    for ax, half in zip(axes, (False, True), strict=True):
        for name in report["summary"]:
            curves = [r["curve"] for r in report["runs"] if r["activation"] == name]
            points = list(zip(*curves, strict=True))
            if half:
                points = points[len(points) // 2:]
            steps = [p[0]["step"] for p in points]
            values = [[c["val_loss"] / LN2 for c in p] for p in points]
            style = {"linewidth": 1.8, "color": "black"} if name == "LELU" else {"linewidth": 1.2}
            (line,) = ax.plot(steps, [statistics.fmean(v) for v in values], label=name, **style)
            ax.fill_between(steps, [min(v) for v in values], [max(v) for v in values],
                            color=line.get_color(), alpha=0.2, linewidth=0)
        if not half:
            ax.axhline(baseline, color="gray", linestyle="--", linewidth=1, label="unigram baseline")
        ax.set_xlabel("step")
        ax.set_title("validation bits per byte" + (" (second half)" if half else ""), fontsize=9)
        ax.grid(True, linewidth=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tools/lelu train --task lm", description=(__doc__ or "").split("\n\n")[0],
        epilog="The defaults take about 30 minutes on a 2-CPU machine: 3 activations x 3 seeds x 900 steps, eager, "
        "then a compiled timing run of 20 steps per activation.")
    parser.add_argument("--task", choices=["lm"], default="lm", help="lm (`tools/lelu train` without it: digits)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run in seconds (2 seeds, 12 steps, 1 block of width 32): checks, not results")
    full, quick = FULL, QUICK
    for name, text in (("seeds", "seeds per activation"), ("steps", "training steps per run"),
                       ("layers", "transformer blocks"), ("width", "model width (the MLP's hidden layer is 4x)"),
                       ("heads", "attention heads"), ("context", "bytes per window"),
                       ("batch", "windows per batch"), ("eval-every", "steps between validation losses"),
                       ("eval-windows", "validation windows per point of the curve"),
                       ("final-windows", "validation windows for the final loss"),
                       ("time-steps", "timed steps of the timing run in the mode not trained (0: none)")):
        key = name.replace("-", "_")
        parser.add_argument(f"--{name}", type=int, help=f"{text} (default {full[key]}, --quick {quick[key]})")
    parser.add_argument("--lr", type=float, default=3e-3, help="AdamW's peak learning rate (default 0.003)")
    parser.add_argument("--warmup", type=int, help="warm-up steps (default: a tenth of --steps)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: deterministic timing)")
    parser.add_argument("--compile", action="store_true",
                        help="train the model under torch.compile (the step time includes the compiled forward "
                             "and backward); the eager step time then comes from the timing run")
    parser.add_argument("--activations", nargs="+", choices=list(ACTIVATIONS), default=list(ACTIVATIONS),
                        help="default: all")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG plot")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder (default: build/reports/train-lm)")
    parser.add_argument("--publish", action="store_true",
                        help="also write TRAINING.md's language-model section and docs/training/" + PLOT)
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="train nothing: write the report (and with --publish TRAINING.md's section) again from "
                             "the results.json of an earlier run (its plot is drawn again from the curves)")
    args = parser.parse_args(argv)
    for key in FULL:
        if getattr(args, key) is None:
            setattr(args, key, (QUICK if args.quick else FULL)[key])
    if args.warmup is None:
        args.warmup = max(1, args.steps // 10)
    positive = (args.seeds, args.steps, args.layers, args.width, args.heads, args.context, args.batch,
                args.eval_every, args.eval_windows, args.final_windows, args.threads)
    if min(positive) < 1 or args.lr <= 0 or args.warmup < 0 or args.time_steps < 0:
        parser.error("--seeds, --steps, --layers, --width, --heads, --context, --batch, --eval-every, "
                     "--eval-windows, --final-windows, --threads and --lr must be positive "
                     "(--warmup and --time-steps may be 0)")
    if args.width % args.heads:
        parser.error("--width must be a multiple of --heads")
    return args


def config(args: argparse.Namespace) -> Config:
    return Config(args.seeds, args.steps, args.layers, args.width, args.heads, args.context, args.batch, args.lr,
                  args.warmup, args.eval_every, args.eval_windows, args.final_windows, args.threads, args.compile,
                  args.time_steps)


def write_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    """results.json, report.md and the plot in --out; with --publish, TRAINING.md's section."""
    args.out.mkdir(parents=True, exist_ok=True)
    report["images"] = []
    if not args.no_plots:
        plot(report, args.out / PLOT)
        report["images"] = [str(args.out / PLOT)]
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    (args.out / "report.md").write_text("# LELU in a small transformer language model\n\n"
                                        + render_markdown(report, ".", heading="##"))
    if args.publish:
        publish(report)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.render is not None:
        write_report(json.loads(args.render.read_text()), args)
        print(f"[train lm] wrote {args.out / 'report.md'} from {args.render}")
        return 0
    if not hasattr(nn, "LELU"):
        print("error: this torch has no nn.LELU: run through `tools/lelu train` (the overlay)", file=sys.stderr)
        return 1
    cfg = config(args)
    corpus = load_corpus()
    if corpus.val.numel() <= cfg.context + 1:
        print(f"error: the validation split ({corpus.val.numel()} bytes) is shorter than a window", file=sys.stderr)
        return 1
    machine = machine_info()
    log: Callable[[str], None] = lambda line: print(f"[train lm] {line}", flush=True)  # noqa: E731
    log(f"{len(args.activations)} activations x {cfg.seeds} seeds x {cfg.steps} steps "
        f"({'compiled' if cfg.compile else 'eager'}) on {machine['cpu']}, torch {machine['torch']}; corpus "
        f"{len(corpus.files)} files of {corpus.root}, {corpus.total:,} bytes; report in {args.out}")
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    rng_before = torch.random.get_rng_state()
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    probe = LoadProbe()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    probe.start()
    try:
        runs = run(cfg, corpus, args.activations, log)
        timing = timing_runs(cfg, corpus, args.activations, log)
    finally:
        if cfg.compile:
            torch.compiler.reset()
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)
        torch.random.set_rng_state(rng_before)
    others = probe.stop()
    summary = summarize(runs, timing, args.activations, cfg.compile)
    report: dict[str, Any] = {
        "machine": machine,
        "command": " ".join(["tools/lelu train", *argv]),
        "config": asdict(cfg),
        "data": corpus.describe(),
        "model": {"parameters": parameters(cfg)},
        "elapsed_s": time.perf_counter() - start,
        "load": {"others_cpu_share": others, "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]},
        "summary": summary,
        "comparison": compare(summary),
        "timing": timing,
        "runs": runs,
        "images": [],
    }
    write_report(report, args)
    for name, s in summary.items():
        log(f"{name:<5} val {_pm(s['val_bpb'])} bits/byte  eager {_ms(s['step_s']['eager'])}/step  "
            f"compiled {_ms(s['step_s']['compiled'])}/step")
    log(verdict(report))
    log(f"{report['elapsed_s'] / 60:.1f} minutes; wrote {args.out / 'report.md'}, results.json"
        f"{' and ' + PLOT if report['images'] else ''}")
    return 0


def publish(report: dict[str, Any], document: Path | None = None, docs: Path | None = None) -> None:
    """TRAINING.md's language-model section (the rest of the document is kept) and its plot under
    docs/training/."""
    document = REPO / "TRAINING.md" if document is None else document
    docs = DOCS if docs is None else docs
    if report["images"]:
        docs.mkdir(parents=True, exist_ok=True)
    for image in report["images"]:
        shutil.copyfile(image, docs / Path(image).name)
    intro = ("GELU, SiLU and LELU as the MLP activation of a small transformer language model; written by "
             f"`{report['command']}` (re-run it to reproduce the numbers).")
    SECTION.publish(document, f"\n{intro}\n\n"
                    + render_markdown(report, docs.relative_to(document.parent).as_posix()) + "\n")
    print(f"[train lm] wrote the language-model section of {document} and {len(report['images'])} image(s) in {docs}")


if __name__ == "__main__":
    sys.exit(main())
