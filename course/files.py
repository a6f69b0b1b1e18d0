"""Files and checksums: one record format for every folder the course verifies.

A checksum record is a JSON file ``{..., "files": {name: {"sha256": ..., "bytes": ...}}}``: AG News keeps one
as ``manifest.json`` (with the data variant's name beside the table), every saved fine-tuning checkpoint one
as ``checksums.json`` (with its step). ``write_record`` writes it, ``verify_record`` checks a folder against it;
a problem is raised as ``RecordError``, which says what is wrong and where, and each caller words the fix.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: The repository's root: data/, bert/, checkpoints/, notebooks/ and i18n/ are found from here.
ROOT = Path(__file__).resolve().parents[1]


class DataError(RuntimeError):
    """Data or model files are missing, corrupted or malformed; the message says how to fix it."""


class RecordError(DataError):
    """What ``verify_record`` found wrong. ``kind``: "absent" (no record), "invalid" (the record does not read),
    "missing" (a listed file is gone), "unreadable" (a listed file cannot be read), "mismatch" (wrong sha256).
    ``path`` is the file at fault; ``detail`` the reason (for "invalid", "missing" and "unreadable")."""

    def __init__(self, kind, path, record_path, detail=None, actual=None, expected=None, recorded_bytes=None):
        super().__init__(f"{path}: {kind}" + (f" ({detail})" if detail else ""))
        self.kind, self.path, self.record_path, self.detail = kind, Path(path), Path(record_path), detail
        self.actual, self.expected, self.recorded_bytes = actual, expected, recorded_bytes


def pid_alive(pid):
    """Whether process ``pid`` runs on this machine (where that cannot be known, as on Windows: True)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def file_digest(path, algorithm="sha256"):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync(path):
    """Flush ``path`` to the disk, so that a record written after it never lists bytes still in a cache."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_record(folder, names, record_name, **extra):
    """Record the sha256 and size of ``names`` (paths relative to ``folder``) in ``folder/record_name``,
    with ``extra`` fields before the table. Returns the record's path."""
    folder = Path(folder)
    files = {name: {"sha256": file_digest(folder / name), "bytes": (folder / name).stat().st_size} for name in names}
    record_path = folder / record_name
    record_path.write_text(json.dumps({**extra, "files": files}, indent=2) + "\n")
    return record_path


def read_record(record_path):
    """A checksum record as a dict; ``RecordError`` "absent" if there is none, "invalid" if it does not read."""
    record_path = Path(record_path)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not all(isinstance(entry["sha256"], str) for entry in record["files"].values()):
            raise ValueError("an entry lacks its sha256")
    except FileNotFoundError:
        raise RecordError("absent", record_path, record_path) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:  # JSONDecodeError is a ValueError
        raise RecordError("invalid", record_path, record_path, detail=error) from None
    return record


def verify_record(folder, record_name):
    """Check every file listed in ``folder/record_name`` by sha256; return the record or raise ``RecordError``."""
    folder = Path(folder)
    record_path = folder / record_name
    record = read_record(record_path)
    for name, entry in record["files"].items():
        path = folder / name
        try:
            actual = file_digest(path)
        except FileNotFoundError as error:
            raise RecordError("missing", path, record_path, detail=error.strerror) from None
        except OSError as error:
            raise RecordError("unreadable", path, record_path, detail=error.strerror or error) from None
        if actual != entry["sha256"]:
            raise RecordError("mismatch", path, record_path, actual=actual, expected=entry["sha256"],
                              recorded_bytes=entry.get("bytes"))
    return record
