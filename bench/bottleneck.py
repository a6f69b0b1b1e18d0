"""The bottleneck of notebook 01: does the model without attention learn digit reversal when trained longer?

    python bench/bottleneck.py --json bench/bottleneck-results.json   # about 6 minutes on 2 cores
    python bench/bottleneck.py --quick                                # a smoke run

Notebook 01 trains both encoder-decoders for 600 steps and finds the one without attention far behind on long
strings. That measures that attention makes the task learnable within that budget, not that one vector of 128
numbers cannot hold 30 digits (it could: 30 random digits are about 100 bits). This script trains the model
without attention for longer, through the notebook's own knob (TRAIN_STEPS), and reports where it gets.

The model, data, training loop and evaluation are notebook 01's own code: the cells are read from
notebooks/01_attention.ipynb by their ids and executed here, so this script cannot drift from the notebook.
Each run is a fresh model (seed 0, same data order), with the learning rate decaying to zero over its steps.
"""
import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

NOTEBOOK = ROOT / "notebooks" / "01_attention.ipynb"
# The cells that import and define the data, the model, the training loop and the evaluation, in notebook order.
# The import cell comes first, so that a name the notebook starts to import is there for the cells below.
DEFINING_CELLS = ["c01", "c03", "c05", "c07", "c09", "c13", "c15", "c20"]
# Where the training cell and the evaluation cell stop defining and start running.
STOP_AT = {"c15": "\nmodels, losses, seconds = ", "c20": "\nlengths = "}


def notebook_namespace():
    """Execute notebook 01's defining cells (without their training and evaluation runs) and return the names."""
    cells = {c.get("id"): "".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]}
    namespace = {}
    for cell_id in DEFINING_CELLS:
        if cell_id not in cells:
            raise SystemExit(f"notebook 01 has no cell with id {cell_id!r}; update DEFINING_CELLS in {__file__}")
        source = cells[cell_id]
        if cell_id in STOP_AT:
            if STOP_AT[cell_id] not in source:
                raise SystemExit(f"cell {cell_id} of notebook 01 changed; update STOP_AT in {__file__}")
            source = source.split(STOP_AT[cell_id])[0]
        with contextlib.redirect_stdout(io.StringIO()):  # the cells' demonstration prints
            exec(compile(source, f"{NOTEBOOK.name}:{cell_id}", "exec"), namespace)
    return namespace


def measure(ns, use_attention, steps):
    import torch

    torch.manual_seed(0)
    model = ns["Seq2Seq"](use_attention)
    start = time.perf_counter()
    losses = ns["train"](model, steps=steps)
    seconds = time.perf_counter() - start
    exact, token = ns["evaluate"](model, ns["test_inputs"])
    lengths = torch.tensor([len(x) for x in ns["test_inputs"]])
    buckets = ns["buckets"]
    in_bucket = [(lengths >= lo) & (lengths <= hi) for lo, hi in buckets]
    # One long string decoded, so that a claim about what goes wrong can be read, not only counted.
    longest = next(x for x in ns["test_inputs"] if len(x) == ns["MAX_LEN"])
    source, _ = ns["make_batch"]([longest])
    predicted, _ = model.generate(source, len(longest) + 1)
    return {"attention": use_attention, "steps": steps, "seconds": round(seconds, 1),
            "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
            "exact_overall": round(exact.mean().item(), 4),
            "exact_by_length": {f"{lo}-{hi}": round(exact[m].mean().item(), 4)
                                for (lo, hi), m in zip(buckets, in_bucket)},
            "token_by_length": {f"{lo}-{hi}": round(token[m].mean().item(), 4)
                                for (lo, hi), m in zip(buckets, in_bucket)},
            "example": {"input": ns["to_text"](longest), "expected": ns["to_text"](longest[::-1]),
                        "output": ns["to_text"](until_eos(predicted[0].tolist(), ns["EOS"]))}}


def until_eos(tokens, eos):
    return tokens[:tokens.index(eos)] if eos in tokens else tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few steps")
    parser.add_argument("--steps", type=int, nargs="+", help="training budgets for the model without attention")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    import common

    common.header("Bottleneck: notebook 01's model without attention, trained for longer")
    ns = notebook_namespace()
    ns["torch"].set_num_threads(1)  # as the notebook does: tiny matrices, step by step
    steps = args.steps or ([20, 40] if args.quick else [600, 1500, 3000])
    print(f"notebook 01's budget: {ns['COURSE_TRAIN_STEPS']} steps of batch {ns['BATCH_SIZE']}; "
          f"budgets here: {', '.join(map(str, steps))} steps")
    runs = []
    for n in steps:
        runs.append(measure(ns, False, n))
        r = runs[-1]
        print(f"no attention, {n:>5} steps: final loss {r['final_loss']:.3f}, exact {r['exact_overall']:.1%} "
              f"(by length: {', '.join(f'{k} {v:.1%}' for k, v in r['exact_by_length'].items())}), "
              f"{r['seconds']:.0f} s", flush=True)
        print(f"  30 digits: expected {r['example']['expected']}\n            got      {r['example']['output']}")
    if args.json:
        settings = {"quick": args.quick, "batch_size": ns["BATCH_SIZE"], "test_strings": len(ns["test_inputs"]),
                    "notebook_steps": ns["COURSE_TRAIN_STEPS"],
                    "command": "flock /tmp/cpu.lock .venv/bin/python bench/bottleneck.py --json " + str(args.json)}
        args.json.write_text(json.dumps({"settings": settings, "runs": runs}, indent=1) + "\n")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
