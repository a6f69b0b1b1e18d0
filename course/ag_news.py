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

from course.files import ROOT, DataError, RecordError, file_digest, pid_alive, read_record, verify_record, write_record
from course.i18n import tr

# AG_NEWS_DIR points the course at another data folder (tests/test_scale.py: a temporary one), leaving data/ as
# it is; the default is data/ag_news in the repository.
DATA_DIR = Path(os.environ.get("AG_NEWS_DIR") or ROOT / "data" / "ag_news")
CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
MANIFEST = "manifest.json"
#: The course's mark on a data folder it made (a copy from a mirror, or a download): only such a folder is ever
#: called deletable in advice; in any other, the course changes and deletes nothing.
DATA_MARKER = "course-data.json"
#: The row counts (train, test) of the two variants the course knows, to tell a copy without checksums that
#: matches neither (half a copy, say) from one that is merely unverified.
KNOWN_VARIANTS = {"official release": (120_000, 7_600), "offline variant": (5_200, 1_600)}

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


def course_made(folder):
    """Whether the course made ``folder`` (a copy or a download, marked with ``DATA_MARKER``)."""
    return (Path(folder) / DATA_MARKER).is_file()


def repair_advice(folder, mirror=False, path=None):
    """What to do about a damaged ``path`` in ``folder``: never delete the shared mirror or a folder the course did
    not make; a copy the course made may be deleted and made afresh."""
    if mirror:
        return (f"{folder} is the shared mirror (AG_NEWS_MIRROR): do not delete it; ask whoever maintains it to "
                "restore the file, or set AG_NEWS_MIRROR to another copy. Nothing was copied.")
    if course_made(folder):
        return (f"Delete {folder} (a copy the course made; the mirror is never touched) and run again to copy or "
                "download it afresh. " + MIRROR_HINT.format(data_dir=folder))
    advice = (f"The course did not make {folder}, so it changed and deleted nothing there: replace "
              f"{Path(path).name if path else 'that file'} with a sound copy (or correct it), or name another folder.")
    if Path(folder).resolve() == DATA_DIR.resolve():
        advice += f" If an earlier version of the course made {folder}, delete it and run again."
    return advice


def check_encoding(path, data, advice=""):
    """Refuse text that is not UTF-8 in a way worth naming: UTF-16 or UTF-32 (a spreadsheet's "Unicode text")
    would otherwise read as a file cut off, or as bytes that are not UTF-8."""
    boms = [(codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
            (codecs.BOM_UTF16_BE, "UTF-16")]
    encoding = next((name for bom, name in boms if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data[:4096]:
        encoding = "UTF-16 or UTF-32 (it holds NUL bytes)"
    if encoding:
        raise DataError(f"{path} is {encoding} text, not UTF-8: nothing in it is damaged, but the course reads "
                        f"UTF-8. Save it as UTF-8 (for example: iconv -f UTF-16 -t UTF-8 {path} > "
                        f"{Path(path).stem}-utf8.csv, then use that file). {advice}".rstrip())


def read_classes(folder):
    """The class names of ``folder/classes.txt``, one a line; AG News's own four where there is no such file
    (the Kaggle copy has none)."""
    path = Path(folder) / "classes.txt"
    if not path.exists():
        return list(CLASSES)
    if not path.is_file():
        raise DataError(f"{path} is a folder, not a file: classes.txt holds the class names, one a line. "
                        + repair_advice(folder, path=path))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}, byte offset {error.start}: the bytes {data[error.start:error.start + 4]!r} are not "
                        f"UTF-8 ({error.reason}). Save the file as UTF-8.") from None
    return [name.strip() for name in text.split("\n") if name.strip()]


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
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a file. " + repair_advice(folder, mirror, path))
        data = path.read_bytes()
        check_encoding(path, data)
        if data.strip() and not data.endswith(b"\n"):
            line = data.count(b"\n") + 1
            raise DataError(f"{path} ends in the middle of a row (line {line} has no line break): the file is "
                            "incomplete, cut off while it was written or copied. "
                            + repair_advice(folder, mirror, path))
        counts[name] = len(read_ag_news_csv(path, advice=repair_advice(folder, mirror, path)))
    classes = read_classes(folder)
    if len(classes) != 4:
        raise DataError(f"{folder / 'classes.txt'} names {len(classes)} classes, not 4. "
                        + repair_advice(folder, mirror, folder / "classes.txt"))
    return counts


def unknown_counts_warning(counts):
    """A warning when a copy's row counts match neither known variant (None when they match one)."""
    rows = (counts["train.csv"], counts["test.csv"])
    if rows in KNOWN_VARIANTS.values():
        return None
    known = "; ".join(f"{name} {train:,} / {test:,}" for name, (train, test) in KNOWN_VARIANTS.items())
    return (f"warning: {rows[0]:,} train / {rows[1]:,} test rows match neither known variant of AG News ({known}): "
            "the copy may be incomplete or another data set. Figures from it are not comparable with the course's.")


def download(url, dest, md5=None, sha256=None, progress=True, timeout=60, data_dir=None):
    """Download ``url`` to ``dest`` atomically: a temporary file beside it, checked, then renamed.

    A checksum mismatch or a broken connection raises ``DataError`` and leaves nothing at ``dest``; its advice
    names ``data_dir`` (default: the folder of ``dest``) as the place for files fetched by hand.
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
                        + MIRROR_HINT.format(data_dir=data_dir or dest.parent)) from error
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _prepare_destination(data_dir):
    """Check that AG News may be copied or downloaded into ``data_dir`` without touching anything that is not the
    course's: it is created, or an existing empty folder (a mount point, say), which is filled in place.
    Returns the staging folder to write into, unique to this process."""
    ancestor = data_dir
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DataError(f"{ancestor} is a file, so {data_dir} cannot be created: move that file away (the course "
                        "leaves it alone), or name another data folder.")
    if data_dir.is_dir():
        for leftover in data_dir.glob(".staging-*"):  # of a copy killed half-way: the course's own
            if leftover.name[9:].isdigit() and not pid_alive(int(leftover.name[9:])):
                shutil.rmtree(leftover, ignore_errors=True)
        present = sorted(p.name for p in data_dir.iterdir() if not p.name.startswith(".staging-"))
        if present:
            fix = (f"delete {data_dir} (a copy the course made) and run again" if course_made(data_dir) else
                   "put train.csv and test.csv (and classes.txt, if the class names are not AG News's four) there, "
                   "or name another folder")
            missing = " and ".join(name for name in ("train.csv", "test.csv") if name not in present)
            raise DataError(f"{data_dir} holds {', '.join(present)} but not {missing}, so it is not an AG News copy; "
                            f"nothing was copied or downloaded into it. To fix: {fix}.")
        staging = data_dir / f".staging-{os.getpid()}"
    else:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = data_dir.with_name(f".{data_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / DATA_MARKER).write_text(json.dumps({"written_by": "the Attention & Transformers course"}) + "\n")
    return staging


def _publish(staging, data_dir):
    """Move a complete, verified copy from ``staging`` into place: renamed as a whole, or, into an existing empty
    folder, file by file (the mark first, train.csv last, so an interrupted move is never taken for a copy)."""
    if staging.parent == data_dir:
        names = sorted(p.name for p in staging.iterdir())
        for name in [DATA_MARKER, *[n for n in names if n not in (DATA_MARKER, "train.csv")], "train.csv"]:
            os.rename(staging / name, data_dir / name)
        staging.rmdir()
        return
    try:
        os.rename(staging, data_dir)
    except OSError:
        if not all((data_dir / name).exists() for name in AG_NEWS_FILES):
            raise
        # Another process finished the same copy first: check theirs.
        if verify_against_manifest(data_dir) is None:
            check_ag_news_copy(data_dir)


def _copy_from_mirror(mirror, data_dir):
    """Copy AG News from ``mirror`` atomically: into a staging folder unique to this process, verified (by the
    mirror's manifest, or for a mirror without one by reading every row), then moved into ``data_dir``.
    """
    missing = [name for name in AG_NEWS_FILES if not (mirror / name).exists()]
    if missing:
        raise DataError(f"AG_NEWS_MIRROR={mirror} lacks {', '.join(missing)}. "
                        + MIRROR_HINT.format(data_dir=data_dir))
    # Refuse a damaged source before copying anything.
    manifest = verify_against_manifest(mirror, mirror=True)
    if manifest is None:
        check_ag_news_copy(mirror, mirror=True)
    staging = _prepare_destination(data_dir)
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
        _publish(staging, data_dir)
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
    for name in AG_NEWS_FILES:
        if (data_dir / name).exists() and not (data_dir / name).is_file():
            raise DataError(f"{data_dir / name} is a folder, not a file. "
                            + repair_advice(data_dir, path=data_dir / name))
    # train.csv and test.csv are a copy, to be read as it is (classes.txt is optional: the Kaggle copy has none).
    # Nothing is ever copied or downloaded over files the course did not write.
    if all((data_dir / name).is_file() for name in ("train.csv", "test.csv")):
        if verify_against_manifest(data_dir) is None:
            # No checksums of its own. A copy in data/ag_news from a mirror with a manifest is checked against that
            # manifest (an older version of this module copied file by file, so an interrupted copy looked complete).
            source = read_manifest(mirror, mirror=True) if mirror and Path(mirror).is_dir() else None
            own = data_dir.resolve() == DATA_DIR.resolve() and (data_dir / "classes.txt").is_file()
            if own and source is not None and all(name in source["files"] for name in AG_NEWS_FILES):
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
    # Both files into one staging folder, moved into place together: a failed second download leaves nothing.
    staging = _prepare_destination(data_dir)
    try:
        for name, url in urls.items():
            download(url, staging / name, md5=AG_NEWS_MD5.get(name), progress=progress, data_dir=data_dir)
        (staging / "classes.txt").write_text("\n".join(CLASSES) + "\n")
        # Later loads verify these files too.
        write_manifest(staging, AG_NEWS_FILES, name="ag_news_official",
                       derived_from="official ag_news_csv release (120,000 train / 7,600 test rows)")
        _publish(staging, data_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
    advice = advice or repair_advice(path.parent, path=path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file. {advice}")
    data = path.read_bytes()
    check_encoding(path, data)
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

