"""Training: the settings of a run (``TrainConfig``), the device and seed, and ``fine_tune``, the loop of notebook 05
and of ``finetune.py`` (checkpoints and resume, in one process or under ``torchrun``), cut into named steps."""
from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from course.bert import LengthBucketSampler
from course.checkpoints import (
    CheckpointError,
    CheckpointLock,
    CheckpointMismatch,
    check_checkpoint_dir,
    latest_checkpoint,
    load_state,
    run_identity,
    save_checkpoint,
    settings_differences,
)
from course.i18n import tr


def choose_device():
    """CUDA if present, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed):
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA
    try:
        import numpy
        numpy.random.seed(seed)
    except ImportError:
        pass


@dataclass
class TrainConfig:
    """Everything that decides the result of a fine-tuning run; a resumed run must match it.

    The defaults are the course's run (notebook 05's stored run, full mode)."""
    epochs: float = 3
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 0
    save_every: int = 100
    report_freq: int = 25

    #: Each field's type, test and allowed range in words: ``validate`` and finetune.py's options use them.
    RULES = {
        "epochs": ((int, float), lambda v: v >= 1, "at least 1"),
        "batch_size": (int, lambda v: v >= 1, "at least 1"),
        "lr": ((int, float), lambda v: v > 0, "greater than 0"),
        "weight_decay": ((int, float), lambda v: v >= 0, "at least 0"),
        "warmup_ratio": ((int, float), lambda v: 0 <= v <= 1, "from 0 to 1"),
        "max_grad_norm": ((int, float), lambda v: v > 0, "greater than 0"),
        "seed": (int, lambda v: 0 <= v < 2**63, "from 0 to 2**63 - 1"),
        "save_every": (int, lambda v: v >= 1, "at least 1"),
        "report_freq": (int, lambda v: v >= 1, "at least 1"),
    }

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Refuse settings that cannot train, with a ``ValueError`` naming the field, the value and the range."""
        for name in self.RULES:
            self.check(name, getattr(self, name))

    @classmethod
    def check(cls, name, value):
        """``value`` if it is allowed for the field ``name``, else a ``ValueError`` naming both and the range."""
        kind, test, allowed = cls.RULES[name]
        if (not isinstance(value, kind) or isinstance(value, bool)
                or (isinstance(value, float) and not math.isfinite(value))):
            raise ValueError(f"TrainConfig.{name} must be a finite {'integer' if kind is int else 'number'}, "
                             f"got {value!r}")
        if not test(value):
            raise ValueError(f"TrainConfig.{name}={value!r} is out of range: it must be {allowed}")
        return value

def _distributed():
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce_sum(values, device):
    if not _distributed():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def _on_rank0(function):
    """Run ``function`` on rank 0 only and share its result (or its error) with every rank."""
    if not _distributed():
        return function()
    outcome = [None]
    if torch.distributed.get_rank() == 0:
        try:
            outcome = [("ok", function())]
        except CheckpointError as error:
            outcome = [(type(error).__name__, str(error))]
    torch.distributed.broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if kind != "ok":
        raise {"CheckpointMismatch": CheckpointMismatch}.get(kind, CheckpointError)(value)
    return value


def fine_tune(model, train_features, config, *, collate, tokenizer=None, checkpoint_dir=None, device=None,
              progress=True, log=print, on_step=None, run=None):
    """Fine-tune ``model`` (a ``...ForSequenceClassification``) on tokenized features; return the history.

    Before anything trains it checks the settings (``TrainConfig.validate``), that no text is longer than the
    model's positions, and the checkpoint folder: not a file, not someone else's non-empty folder, writable,
    and not in use by another process (a lock file beside it). Each checkpoint records its files' sha256 and
    what defines the run (``run_identity`` plus ``run``, extra settings a script adds); a resume verifies the
    files, falls back to the previous checkpoint if the newest is damaged, and refuses any difference.

    The loop: length-bucketed batches, AdamW with linear warmup and decay, gradient clipping, loss and
    accuracy accumulated as Python floats. Every ``config.save_every`` steps and at the end it writes a
    checkpoint into ``checkpoint_dir``; if one is there already, training resumes from it (an interrupted
    run loses at most ``save_every`` steps, and a finished run only loads). Under ``torchrun`` ``model``
    is wrapped in DistributedDataParallel, the sampler shares the data among ranks, metrics are summed over
    ranks and only rank 0 writes. ``on_step(step, model)``, if given, runs after every step (to evaluate
    during training, say); the model is put back in training mode after it.
    """
    _check_inputs(model, train_features, config)
    run = {**run_identity(model, train_features), **(run or {})}
    settings = dict(collate=collate, tokenizer=tokenizer, device=device, progress=progress, log=log,
                    on_step=on_step, run=run)
    if not checkpoint_dir:
        return _train(model, train_features, config, checkpoint_dir=None, resume_from=None, **settings)
    checkpoint_dir, lock = Path(checkpoint_dir), []

    def claim():  # rank 0: check the folder, take the lock, find the newest sound checkpoint
        check_checkpoint_dir(checkpoint_dir)
        lock.append(CheckpointLock(checkpoint_dir).acquire(log))
        try:
            folder = latest_checkpoint(checkpoint_dir, log)
        except CheckpointError:
            lock.pop().release()
            raise
        return folder and str(folder)

    resume_from = _on_rank0(claim)
    try:
        return _train(model, train_features, config, checkpoint_dir=checkpoint_dir,
                      resume_from=resume_from and Path(resume_from), **settings)
    finally:
        for held in lock:
            held.release()


def _check_inputs(model, train_features, config):
    """Refuse settings that cannot train and texts longer than the model's positions, before anything runs."""
    config.validate()
    if not train_features:
        raise ValueError("no training features: tokenize some texts with encode_for_bert first")
    positions = getattr(model.config, "max_position_embeddings", None)
    longest = max(range(len(train_features)), key=lambda i: len(train_features[i]["input_ids"]))
    if positions and len(train_features[longest]["input_ids"]) > positions:
        raise ValueError(f"feature {longest} has {len(train_features[longest]['input_ids'])} tokens but the model has "
                         f"{positions} positions: encode with max_length at most {positions}")


@dataclass
class _Loop:
    """What the training loop carries from step to step; a checkpoint saves its counters and history."""
    model: torch.nn.Module
    trained: torch.nn.Module  # ``model`` itself, or its DistributedDataParallel wrapper
    device: torch.device
    world: int
    rank: int
    sampler: LengthBucketSampler
    loader: torch.utils.data.DataLoader
    optimizer: torch.optim.Optimizer
    scheduler: object
    total_steps: int
    step: int = 0
    history: dict = field(default_factory=lambda: {"step": [], "loss": [], "accuracy": [], "lr": []})
    running: list = field(default_factory=lambda: [0.0, 0.0, 0.0])  # loss * samples, correct, samples since report


def _set_up(model, train_features, config, collate, device):
    """Device, ranks, the length-bucketed loader, AdamW (no decay on biases and LayerNorm) and the schedule."""
    from transformers import get_linear_schedule_with_warmup

    device = torch.device(device) if device is not None else next(model.parameters()).device
    world, rank = (torch.distributed.get_world_size(), torch.distributed.get_rank()) if _distributed() else (1, 0)
    sampler = LengthBucketSampler([len(f["input_ids"]) for f in train_features], config.batch_size,
                                  seed=config.seed, num_replicas=world, rank=rank)
    # Its own generator: creating a loader iterator must not draw from the global RNG that dropout uses,
    # or a resumed run would diverge from an uninterrupted one.
    loader = torch.utils.data.DataLoader(train_features, batch_sampler=sampler, collate_fn=collate,
                                         generator=torch.Generator())
    total_steps = math.ceil(config.epochs * len(sampler))
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": config.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    return _Loop(model=model, trained=model, device=device, world=world, rank=rank, sampler=sampler, loader=loader,
                 optimizer=optimizer, scheduler=scheduler, total_steps=total_steps)


def _resume(loop, resume_from, config, *, checkpoint_dir, run, log):
    """Continue from a verified checkpoint: refuse other settings, then load weights, optimizer, schedule,
    the random state and the counters."""
    from safetensors.torch import load_file

    state = load_state(resume_from)
    differences = settings_differences(state, config, loop.world, run)
    if differences:
        raise CheckpointMismatch(
            f"{checkpoint_dir} was written by a run with other settings: {'; '.join(differences)}. To train with "
            "the new settings, delete it to start afresh (or name another folder); to resume, pass its settings")
    loop.model.load_state_dict(load_file(resume_from / "model.safetensors", device=str(loop.device)),
                               strict=False)  # tied weights are stored once
    loop.optimizer.load_state_dict(state["optimizer"])
    loop.scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"][loop.rank])
    loop.step, loop.history, loop.running = state["step"], state["history"], state["running"]
    if loop.step < loop.total_steps:
        log(tr("resuming from {folder} at step {step} of {total}", folder=checkpoint_dir, step=loop.step,
               total=loop.total_steps))


def _save(loop, config, *, checkpoint_dir, tokenizer, run):
    """Every rank hands in its random state; rank 0 writes the checkpoint."""
    rng = [torch.get_rng_state()]
    if loop.world > 1:
        rng = [None] * loop.world
        torch.distributed.all_gather_object(rng, torch.get_rng_state())
    if loop.rank == 0:
        save_checkpoint(checkpoint_dir, loop.model, tokenizer, loop.optimizer, loop.scheduler,
                        {"step": loop.step, "total_steps": loop.total_steps, "history": loop.history,
                         "running": loop.running, "config": asdict(config), "run": run,
                         "world_size": loop.world, "rng": rng})


def _train_step(loop, batch, config):
    """One optimizer step on ``batch``; its loss and accuracy are added to the running sums."""
    batch = {k: v.to(loop.device) for k, v in batch.items()}
    output = loop.trained(**batch)
    output.loss.backward()
    torch.nn.utils.clip_grad_norm_(loop.model.parameters(), config.max_grad_norm)
    loop.optimizer.step()
    loop.scheduler.step()
    loop.optimizer.zero_grad(set_to_none=True)
    loop.step += 1
    n = len(batch["labels"])
    loop.running[0] += output.loss.item() * n
    loop.running[1] += (output.logits.argmax(-1) == batch["labels"]).sum().item()
    loop.running[2] += n


def _report(loop):
    """Append the running loss and accuracy (summed over ranks) and the learning rate to the history."""
    loss_sum, correct, seen = _all_reduce_sum(loop.running, loop.device)
    loop.history["step"].append(loop.step)
    loop.history["loss"].append(loss_sum / seen)
    loop.history["accuracy"].append(correct / seen)
    loop.history["lr"].append(loop.scheduler.get_last_lr()[0])
    loop.running = [0.0, 0.0, 0.0]


def _log_summary(loop, first_step, started, log):
    # A widget bar is stored as widget state, which static viewers (GitHub, nbviewer, slides) show as 0%:
    # this plain line says what happened in any viewer.
    if loop.step > first_step:
        log(tr("fine-tuning: trained steps {first}-{last} of {total} in {seconds:.0f} s; last report: loss "
               "{loss:.3f}, training accuracy {accuracy:.3f}", first=first_step + 1, last=loop.step,
               total=loop.total_steps, seconds=time.perf_counter() - started, loss=loop.history["loss"][-1],
               accuracy=loop.history["accuracy"][-1]))
    else:
        log(tr("fine-tuning: the run of {total} steps had finished; loaded its checkpoint", total=loop.total_steps))


def _train(model, train_features, config, *, collate, tokenizer, checkpoint_dir, resume_from, device, progress,
           log, on_step, run):
    """The loop: set up, resume if a checkpoint was found, train epoch by epoch, report and save on schedule."""
    from course.progress import Progress

    loop = _set_up(model, train_features, config, collate, device)
    if resume_from:
        _resume(loop, resume_from, config, checkpoint_dir=checkpoint_dir, run=run, log=log)
    if loop.world > 1:
        device_ids = [loop.device] if loop.device.type == "cuda" else None
        loop.trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    model.train()
    first_step, started = loop.step, time.perf_counter()
    bar = Progress(loop.total_steps, initial=loop.step, desc=tr("fine-tuning"),
                   disable=not progress or loop.rank != 0)
    steps_per_epoch = len(loop.sampler)
    while loop.step < loop.total_steps:
        epoch, skip = divmod(loop.step, steps_per_epoch)
        loop.sampler.set_epoch(epoch)
        for i, batch in enumerate(loop.loader):
            if i < skip:
                continue  # a resumed run skips the batches its checkpoint had already trained on
            _train_step(loop, batch, config)
            bar.update(1)
            bar.set_postfix(loss=f"{loop.running[0] / loop.running[2]:.3f}",
                            acc=f"{loop.running[1] / loop.running[2]:.3f}")
            if loop.step % config.report_freq == 0 or loop.step == loop.total_steps:
                _report(loop)
            if checkpoint_dir and (loop.step % config.save_every == 0 or loop.step == loop.total_steps):
                _save(loop, config, checkpoint_dir=checkpoint_dir, tokenizer=tokenizer, run=run)
            if on_step is not None:
                on_step(loop.step, model)
                model.train()
            if loop.step == loop.total_steps:
                break
    bar.close()
    if progress and loop.rank == 0:
        _log_summary(loop, first_step, started, log)
    model.eval()
    return loop.history
