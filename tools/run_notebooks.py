"""Execute notebooks top to bottom in fresh kernels and print a summary.

    python tools/run_notebooks.py --output-dir build notebooks/*.ipynb   # executed copies (make run)
    python tools/run_notebooks.py --in-place notebooks/05_fine_tuning.ipynb  # refresh stored outputs

Each notebook runs in its own kernel with its folder as the working directory; a failing notebook is
reported and the others still run; the exit status is non-zero if any failed.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets.config import Config


def run(path, output, sockets):
    notebook = nbformat.read(path, as_version=4)
    # A local socket file, not TCP on localhost: the kernel's messages never touch the network (and ipykernel
    # does not warn about unencrypted TCP on every start).
    # The socket files' path is absolute: the kernel runs in the notebook's folder, not here.
    sockets_config = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
    client = NotebookClient(notebook, config=sockets_config, timeout=None, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        error = None
    except CellExecutionError as failure:
        error = str(failure).strip().splitlines()[-1]
    nbformat.write(notebook, output)
    return time.perf_counter() - start, error


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--output-dir", type=Path, help="write executed copies here")
    where.add_argument("--in-place", action="store_true", help="overwrite the notebooks with their outputs")
    args = parser.parse_args()
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for path in args.notebooks:
        output = path if args.in_place else args.output_dir / path.name
        print(f"running {path} ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
            seconds, error = run(path, output, sockets)
        results.append((path.name, seconds, error))
        print(f"  {'FAILED: ' + error if error else 'ok'} in {seconds:.0f} s -> {output}", flush=True)
    print("\nnotebook                              seconds  result")
    for name, seconds, error in results:
        print(f"{name:<38}{seconds:>7.0f}  {'FAILED' if error else 'ok'}")
    failed = sum(1 for *_, error in results if error)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
