"""An official-shaped AG News mirror, generated from the offline variant: for testing the course at full scale.

    python tools/make_official_mirror.py /tmp/ag_news_official_shaped            # header-less, as released
    python tools/make_official_mirror.py /tmp/ag_news_kaggle --kaggle            # with Kaggle's header row

The official release (Zhang, Zhao and LeCun, 2015) has 120,000 training and 7,600 test rows, 30,000 and 1,900
per class, as header-less CSV with every field quoted (``"3","Title","Description"``), the release's own
escapes kept in the text (``\\$`` for a dollar sign, a backslash for a line break, ``#39;`` and ``quot;``),
a ``classes.txt`` and no manifest. Where that file cannot be downloaded, this script builds files of the same
shape from the offline variant (``AG_NEWS_MIRROR``, 5,200 / 1,600 rows): each generated row takes the title of
one source row and the description of another of the same class, lightly perturbed (a word dropped, two
neighbouring words swapped, a line-break backslash inserted, a rare word form made up), so that the texts are
not copies of each other and the vocabulary has a long tail of rare words, as the release's has.
Training rows come from the source's training file and test rows from its test file only.

The texts are realistic in length, vocabulary and escapes but not in content: the generated data tests sizes,
layouts, time and memory, never accuracy. Nothing is written into the repository; name a temporary folder.
The Kaggle copy of AG News differs only by a header row, ``Class Index,Title,Description``, in both files.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from pathlib import Path

OFFICIAL_TRAIN_PER_CLASS = 30_000
OFFICIAL_TEST_PER_CLASS = 1_900
KAGGLE_HEADER = ("Class Index", "Title", "Description")
CLASSES = ("World", "Sports", "Business", "Sci/Tech")


def _source_rows(path):
    """Raw ``(class, title, description)`` rows of an AG News CSV, escapes as stored, grouped by class."""
    by_class = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        for label, title, description in csv.reader(f):
            by_class.setdefault(label, []).append((title, description))
    return by_class


def _rare_word(word, rng):
    """A word form no source row has (a name, say): the word with a few letters appended. The release's vocabulary
    has a long tail of such words, which recombined rows alone would lack."""
    return word.rstrip(".,;:") + "".join(rng.choice("aeiourstnlkm") for _ in range(rng.randint(2, 4)))


def _perturb(words, rng):
    words = list(words)
    if len(words) > 1 and rng.random() < 0.6:
        i = rng.randrange(len(words))
        words[i] = _rare_word(words[i], rng)
    choice = rng.random()
    if choice < 0.3 and len(words) > 4:
        del words[rng.randrange(len(words))]
    elif choice < 0.6 and len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif choice < 0.65 and len(words) > 6:
        i = rng.randrange(1, len(words) - 1)  # the release's line break inside a description: a bare backslash
        words[i] = words[i] + "\\"
    return " ".join(words)


def _generate(by_class, per_class, rng):
    rows = []
    for label in sorted(by_class):
        pairs = by_class[label]
        for _ in range(per_class):
            title = rng.choice(pairs)[0]
            description = _perturb(rng.choice(pairs)[1].split(" "), rng)
            rows.append((label, title, description))
    rng.shuffle(rows)
    return rows


def _write(path, rows, kaggle):
    with open(path, "w", encoding="utf-8", newline="") as f:
        if kaggle:
            f.write(",".join(KAGGLE_HEADER) + "\n")  # Kaggle's header line is not quoted
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def make_official_mirror(dest, source=None, *, kaggle=False, train_per_class=OFFICIAL_TRAIN_PER_CLASS,
                         test_per_class=OFFICIAL_TEST_PER_CLASS, seed=0):
    """Write ``train.csv``, ``test.csv`` and ``classes.txt`` of the official shape into ``dest``; return it.

    ``source`` is a folder holding the offline variant (default: ``AG_NEWS_MIRROR``). ``kaggle`` adds Kaggle's
    header row to both CSV files. Smaller ``train_per_class``/``test_per_class`` give a small file of the same
    layout, for quick tests. Deterministic for a given source and seed.
    """
    source = Path(source or os.environ.get("AG_NEWS_MIRROR") or "")
    if not (source / "train.csv").is_file() or not (source / "test.csv").is_file():
        raise FileNotFoundError(f"{source or '(no folder)'} does not hold the offline variant's train.csv and "
                                "test.csv: pass source=, or set AG_NEWS_MIRROR")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for name, per_class in (("train.csv", train_per_class), ("test.csv", test_per_class)):
        _write(dest / name, _generate(_source_rows(source / name), per_class, rng), kaggle)
    (dest / "classes.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    return dest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="the folder to write (a temporary one; never data/)")
    parser.add_argument("--source", type=Path, default=None, help="the offline variant (default: AG_NEWS_MIRROR)")
    parser.add_argument("--kaggle", action="store_true", help="add Kaggle's header row to both CSV files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        dest = make_official_mirror(args.dest, args.source, kaggle=args.kaggle, seed=args.seed)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    print(f"{dest}: {4 * OFFICIAL_TRAIN_PER_CLASS:,} train / {4 * OFFICIAL_TEST_PER_CLASS:,} test rows"
          + (" (Kaggle layout, with a header row)" if args.kaggle else " (official layout, header-less)"))


if __name__ == "__main__":
    main()
