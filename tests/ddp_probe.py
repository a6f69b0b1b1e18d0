"""Run finetune.main under torchrun with instruments: which samples each rank trained on, a digest of its
weights, and the checkpoints it wrote. Launched by test_finetune.py and test_robustness.py; not a test itself.

    torchrun --nproc_per_node 2 tests/ddp_probe.py OUT_DIR [--interrupt-at-step K] -- FINETUNE_ARGS...
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import finetune  # noqa: E402
import torchnlp  # noqa: E402


def main():
    out_dir, rest = Path(sys.argv[1]), sys.argv[2:]
    split = rest.index("--")
    probe_args, finetune_args = rest[:split], rest[split + 1:]
    interrupt_at = int(probe_args[1]) if probe_args[:1] == ["--interrupt-at-step"] else None

    seen, steps = [], [0]
    collate_call = torchnlp.PaddingCollator.__call__

    def recording_collate(self, features):
        seen.extend(f["input_ids"] for f in features)
        return collate_call(self, features)

    clip = torch.nn.utils.clip_grad_norm_

    def interrupting_clip(*args, **kwargs):
        steps[0] += 1
        if steps[0] == interrupt_at:
            raise KeyboardInterrupt
        return clip(*args, **kwargs)

    # The checkpoints this process wrote: a save stages in .staging-<pid> and renames it into place.
    saved, rename = [], os.rename

    def recording_rename(source, destination, *args, **kwargs):
        if Path(source).name.startswith(".staging-"):
            saved.append(Path(destination).name)
        return rename(source, destination, *args, **kwargs)

    torchnlp.PaddingCollator.__call__ = recording_collate
    torch.nn.utils.clip_grad_norm_ = interrupting_clip
    os.rename = recording_rename
    rank = int(os.environ.get("RANK", "0"))
    try:
        model = finetune.main(finetune_args)
    except KeyboardInterrupt:
        print(f"rank {rank} interrupted", flush=True)
        # Leave at once, as a process killed by Ctrl-C under torchrun would: the process group of an
        # interrupted run is not torn down (see finetune.main), and the interpreter's own clean-up of it
        # could wait on gloo's threads.
        os._exit(0)
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    (out_dir / f"rank{rank}.json").write_text(json.dumps({"seen": seen, "weights": digest.hexdigest(),
                                                          "saved": saved}))


if __name__ == "__main__":
    main()
