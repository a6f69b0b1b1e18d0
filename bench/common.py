"""What every benchmark prints first, and the pieces they share."""
import os
import platform
import resource

import torch
import transformers

import torchnlp


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(title):
    train, test, classes, _ = torchnlp.load_dataset(verbose=False)
    data_dir = torchnlp.ensure_ag_news()
    print(f"# {title}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}, "
          f"device {torchnlp.choose_device()}")
    print(f"versions: python {platform.python_version()}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}")
    print(f"data: AG News {torchnlp.describe_variant(data_dir)} ({len(train):,} train / {len(test):,} test rows)")
    print(f"model: {torchnlp.bert_model_path()}")
    return train, test, classes


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def lesson_pad_bert(tokenizer):
    """The lesson's collate, as written: pad with 0 to the longest, no mask, no truncation."""
    import torch.nn.functional as F

    def pad_bert(b):
        v = [tokenizer.encode(x[1]) for x in b]
        longest = max(map(len, v))
        return (torch.LongTensor([t[0] for t in b]),
                torch.stack([F.pad(torch.tensor(t), (0, longest - len(t)), mode="constant", value=0) for t in v]))

    return pad_bert
