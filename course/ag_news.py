"""AG News on disk: provisioning it into ``data/ag_news`` (from a mirror or the official release, verified),
and reading and cleaning its CSV rows."""
from __future__ import annotations

import codecs
import csv
import html
import io
import json
import os
import re
import shutil
import tempfile
import urllib.request
from pathlib import Path

from course.files import ROOT, DataError, RecordError, file_digest, read_record, verify_record, write_record
from course.i18n import tr

# AG_NEWS_DIR points the course at another data folder (tests/test_scale.py: a temporary one), leaving data/ as
# it is; the default is data/ag_news in the repository.
DATA_DIR = Path(os.environ.get("AG_NEWS_DIR") or ROOT / "data" / "ag_news")
CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
MANIFEST = "manifest.json"

AG_NEWS_FILES = ("train.csv", "test.csv", "classes.txt")
# The Kaggle copy of the official release starts each CSV file with this header row; the release has none.
KAGGLE_HEADER = ("Class Index", "Title", "Description")
_KAGGLE_HEADERS_REPORTED = set()  # files whose header was reported already: said once per file and process
# The official char-CNN release, at the addresses torchtext's AG_NEWS used, with its checksums.
AG_NEWS_URLS = {
    "train.csv": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
    "test.csv": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
}
AG_NEWS_MD5 = {"train.csv": "b1a00f826fdfbd249f79597b59e1dc12", "test.csv": "d52ea96a97a2d943681189a97654912d"}
MIRROR_HINT = (
    "Set AG_NEWS_MIRROR to a folder holding train.csv, test.csv and classes.txt (in this course's environment: "
    "AG_NEWS_MIRROR=../shared/data/ag_news_offline), or put those files into {data_dir}."
)


def repair_advice(folder, mirror=False):
    """What to do about a damaged file in ``folder``: delete a local copy; never the shared mirror."""
    if mirror:
        return (f"{folder} is the shared mirror (AG_NEWS_MIRROR): do not delete it; ask whoever maintains it to "
                "restore the file, or set AG_NEWS_MIRROR to another copy. Nothing was copied.")
    return (f"Delete {folder} (the local copy; the mirror is never touched) and run again to copy or download it "
            "afresh. " + MIRROR_HINT.format(data_dir=folder))


def read_manifest(folder, mirror=False):
    """``folder/manifest.json`` as a dict with a ``files`` table, or None if there is none."""
    try:
        return read_record(Path(folder) / MANIFEST)
    except RecordError as problem:
        if problem.kind == "absent":
            return None
        raise DataError(f"{problem.path} is not a valid manifest ({problem.detail}). "
                        + repair_advice(folder, mirror)) from None


def verify_against_manifest(folder, mirror=False):
    """Check every file listed in ``folder/manifest.json`` by sha256; return the manifest (or None if absent).

    ``mirror``: ``folder`` is the shared source, so the advice on a mismatch is never to delete it.
    """
    if read_manifest(folder, mirror) is None:
        return None
    try:
        return verify_record(folder, MANIFEST)
    except RecordError as problem:
        if problem.kind == "mismatch":
            raise DataError(f"{problem.path} is corrupted: sha256 {problem.actual}, expected {problem.expected} "
                            f"from {problem.record_path}. " + repair_advice(folder, mirror)) from None
        if problem.kind == "missing":
            raise DataError(f"{problem.path} is missing (listed in {problem.record_path}). "
                            + repair_advice(folder, mirror)) from None
        raise


def check_ag_news_copy(folder, mirror=False):
    """Integrity of a copy without checksums: every row of both CSV files parses, each file ends with a
    complete line, classes.txt names 4 classes. Returns ``{file: rows}``; raises ``DataError`` naming the file.
    """
    folder = Path(folder)
    counts = {}
    for name in ("train.csv", "test.csv"):
        path = folder / name
        data = path.read_bytes()
        if data.strip() and not data.endswith(b"\n"):
            line = data.count(b"\n") + 1
            raise DataError(f"{path} ends in the middle of a row (line {line} has no line break): the file is "
                            "incomplete, cut off while it was written or copied. " + repair_advice(folder, mirror))
        counts[name] = len(read_ag_news_csv(path, advice=repair_advice(folder, mirror)))
    classes = [c for c in (folder / "classes.txt").read_text(encoding="utf-8-sig").split("\n") if c.strip()]
    if len(classes) != 4:
        raise DataError(f"{folder / 'classes.txt'} names {len(classes)} classes, not 4. "
                        + repair_advice(folder, mirror))
    return counts


def download(url, dest, md5=None, sha256=None, progress=True, timeout=60):
    """Download ``url`` to ``dest`` atomically: a temporary file beside it, checked, then renamed.

    A checksum mismatch or a broken connection raises ``DataError`` and leaves nothing at ``dest``.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                received = 0
                while block := response.read(1 << 16):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise DataError(f"download of {url} was cut off: {received} of {total} bytes received; try again")
        for algorithm, expected in (("md5", md5), ("sha256", sha256)):
            if expected and (actual := file_digest(tmp, algorithm)) != expected:
                raise DataError(f"{url} is corrupted: {algorithm} {actual}, expected {expected}; nothing was saved")
        os.replace(tmp, dest)
    except DataError:
        raise
    except Exception as error:  # connection refused, reset, timeout, incomplete read...
        raise DataError(f"download of {url} failed ({error!r}); nothing was saved. "
                        + MIRROR_HINT.format(data_dir=dest.parent)) from error
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _copy_from_mirror(mirror, data_dir):
    """Copy AG News from ``mirror`` atomically: into a staging folder unique to this process, verified (by the
    mirror's manifest, or for a mirror without one by reading every row), then renamed to ``data_dir``.
    """
    missing = [name for name in AG_NEWS_FILES if not (mirror / name).exists()]
    if missing:
        raise DataError(f"AG_NEWS_MIRROR={mirror} lacks {', '.join(missing)}. "
                        + MIRROR_HINT.format(data_dir=data_dir))
    # Refuse a damaged source before copying anything.
    manifest = verify_against_manifest(mirror, mirror=True)
    if manifest is None:
        check_ag_news_copy(mirror, mirror=True)
    if data_dir.exists() and any(data_dir.iterdir()):
        present = sorted(p.name for p in data_dir.iterdir())
        raise DataError(f"{data_dir} holds {', '.join(present)} but not all of {', '.join(AG_NEWS_FILES)}: an "
                        f"incomplete copy, or someone else's folder (left untouched). Delete {data_dir} (the local "
                        "copy) and run again, or name another folder.")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.with_name(f".{data_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name in [*AG_NEWS_FILES, "manifest.json", "readme.txt"]:
            if (mirror / name).exists():
                shutil.copyfile(mirror / name, staging / name)
        try:
            if verify_against_manifest(staging) is None:
                check_ag_news_copy(staging)
        except DataError as error:
            raise DataError(f"copying {mirror} to {data_dir} went wrong ({error}); nothing was saved, try again.") \
                from None
        if data_dir.exists():
            data_dir.rmdir()  # empty (checked above)
        try:
            os.rename(staging, data_dir)
        except OSError:
            if not all((data_dir / name).exists() for name in AG_NEWS_FILES):
                raise
            # Another process finished the same copy first: check theirs.
            if verify_against_manifest(data_dir) is None:
                check_ag_news_copy(data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return data_dir


def write_manifest(folder, names, **extra):
    write_record(folder, names, MANIFEST, **extra)


def ensure_ag_news(data_dir=None, mirror=None, urls=None, progress=True):
    """Make sure ``data_dir`` (default ``data/ag_news``) holds a verified copy of AG News; return its path.

    1. ``data_dir`` already holds the files: verify them against its ``manifest.json`` (when there is one).
    2. Else copy them from ``mirror`` (default: the folder named by ``AG_NEWS_MIRROR``) and verify.
    3. Else download the official release from ``urls`` and check its MD5 checksums.
    """
    data_dir = Path(data_dir or DATA_DIR)
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"{data_dir} is a file, not a folder: name the folder that holds train.csv, test.csv "
                        "and classes.txt (the file was left untouched).")
    mirror = mirror or os.environ.get("AG_NEWS_MIRROR")
    if all((data_dir / name).exists() for name in AG_NEWS_FILES):
        if verify_against_manifest(data_dir) is None:
            # No checksums of its own. A copy from a mirror with a manifest is checked against that manifest
            # (an older version of this module copied file by file, so an interrupted copy looked complete).
            source = read_manifest(mirror, mirror=True) if mirror and Path(mirror).is_dir() else None
            if source is not None and all(name in source["files"] for name in AG_NEWS_FILES):
                for name in AG_NEWS_FILES:
                    if file_digest(data_dir / name) != source["files"][name]["sha256"]:
                        raise DataError(f"{data_dir / name} differs from the mirror's copy listed in "
                                        f"{Path(mirror) / 'manifest.json'}: {data_dir} is an incomplete or altered "
                                        "copy. " + repair_advice(data_dir))
            check_ag_news_copy(data_dir)
        return data_dir
    if mirror:
        return _copy_from_mirror(Path(mirror), data_dir)
    urls = urls or AG_NEWS_URLS
    for name, url in urls.items():
        download(url, data_dir / name, md5=AG_NEWS_MD5.get(name), progress=progress)
    (data_dir / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    # Later loads verify these files too.
    write_manifest(data_dir, AG_NEWS_FILES, name="ag_news_official",
                   derived_from="official ag_news_csv release (120,000 train / 7,600 test rows)")
    return data_dir


# ---------------------------------------------------------------------------------------------------------
# Reading and cleaning AG News
# ---------------------------------------------------------------------------------------------------------

def clean_text(text):
    """Undo the AG News CSV escapes.

    ``\\$`` is a dollar sign; any other backslash stood for a line break and becomes a space (the readme's
    ``\\n``, and the bare ``\\`` between paragraphs); ``#39;`` and ``#36;`` are numeric character references
    and ``quot;``/``amp;`` named ones that lost their ``&``; ``&lt;``/``&gt;`` are unescaped too, so Reuters
    tickers read ``<AAPL.O>``. Runs of whitespace become one space.
    """
    text = text.replace("\\$", "$").replace("\\", " ")
    text = re.sub(r"(?<!&)#(\d+);", r"&#\1;", text)
    text = re.sub(r"(?<!&)(quot|amp|lt|gt);", r"&\1;", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def join_title_and_description(title, description):
    if not (title and description):
        return title or description
    separator = " " if title.endswith((".", "!", "?", ":")) else ". "
    return title + separator + description


def read_ag_news_csv(path, advice=None):
    """Rows of an AG News CSV as ``(label, text)`` with labels shifted from 1..4 to 0..3 here, once.

    UTF-8, with or without a byte-order mark. The header row of the Kaggle copy (``Class Index,Title,Description``)
    is skipped, and said so once. Errors name the file and the physical line (a quoted field that spans lines
    counts all of them), and for bytes that are not UTF-8 the byte offset too.
    """
    path = Path(path)
    advice = advice or "Restore the file from its source (delete it and provision again)."
    data = path.read_bytes()
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if not data[skip:].strip():
        raise DataError(f"{path} is empty: it holds no rows. {advice}")
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skip + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise DataError(f"{path}, line {line} (byte offset {offset}): the bytes {data[offset:offset + 4]!r} are "
                        f"not UTF-8 ({error.reason}). Save the file as UTF-8, or: {advice}") from None
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""))
    first = 1  # the physical line on which the next record starts
    try:
        for index, row in enumerate(reader):
            line = f"{path}, line {first}"
            first = reader.line_num + 1
            if index == 0 and tuple(field.strip() for field in row) == KAGGLE_HEADER:
                if path.resolve() not in _KAGGLE_HEADERS_REPORTED:
                    _KAGGLE_HEADERS_REPORTED.add(path.resolve())
                    print(tr("{path}: the first line is the header of the Kaggle copy of AG News ({header}); "
                             "skipped, the rows below it are read as the official release's", path=path,
                             header=",".join(KAGGLE_HEADER)))
                continue
            if len(row) != 3:
                raise DataError(f"{line}: expected 3 columns (class, title, description), found {len(row)}. {advice}")
            label, title, description = row
            if label not in ("1", "2", "3", "4"):
                raise DataError(f"{line}: class {label!r} is not one of 1, 2, 3, 4. {advice}")
            title, description = clean_text(title), clean_text(description)
            if not (title or description):
                raise DataError(f"{line}: empty title and description. {advice}")
            rows.append((int(label) - 1, join_title_and_description(title, description)))
    except csv.Error as error:
        raise DataError(f"{path}, line {first}: {error}. {advice}") from None
    return rows


def describe_variant(data_dir):
    manifest_path = Path(data_dir) / "manifest.json"
    name = json.loads(manifest_path.read_text()).get("name") if manifest_path.exists() else None
    return {"ag_news_offline": "offline variant", "ag_news_official": "official release"}.get(name, "unverified copy")

