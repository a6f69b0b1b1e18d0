import collections
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

import torchnlp
from course import ag_news
from torchnlp import DataError


def test_clean_text_undoes_the_csv_escapes():
    raw = r"Stocks \$10 up #39;s #36;5 quot;hi quot; AT amp;T Inc. &lt;T.N&gt;\\Next\line"
    assert torchnlp.clean_text(raw) == "Stocks $10 up 's $5 \"hi \" AT &T Inc. <T.N> Next line"


def test_clean_text_collapses_whitespace_and_keeps_plain_text():
    assert torchnlp.clean_text("  Fears  for T N \n pension ") == "Fears for T N pension"
    assert torchnlp.clean_text("It's 5 o'clock") == "It's 5 o'clock"


def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_are_shifted_to_zero_based_labels_and_title_joined(tmp_path):
    path = write_csv(tmp_path / "t.csv", '"1","World news","Body."\n"4","Is it?","Yes."\n')
    assert torchnlp.read_ag_news_csv(path) == [(0, "World news. Body."), (3, "Is it? Yes.")]


@pytest.mark.parametrize("row, message", [
    ('"1","only two"\n', "expected 3 columns"),
    ('"5","t","d"\n', "class '5' is not one of 1, 2, 3, 4"),
    ('"0","t","d"\n', "class '0'"),
    ('"2","",""\n', "empty title and description"),
])
def test_malformed_rows_name_file_and_line(tmp_path, row, message):
    path = write_csv(tmp_path / "bad.csv", '"1","ok","fine"\n' + row)
    with pytest.raises(DataError, match=message) as error:
        torchnlp.read_ag_news_csv(path)
    assert f"{path}, line 2" in str(error.value)


def test_the_provisioned_split_loads_with_balanced_zero_based_labels(ag_news):
    train, test, classes, vocab = ag_news
    manifest = torchnlp.ensure_ag_news() / "manifest.json"
    counts = json.loads(manifest.read_text())["files"] if manifest.exists() else {}
    for name, split in (("train.csv", train), ("test.csv", test)):  # the sizes its manifest lists, if it has any
        assert len(split) == counts.get(name, {}).get("rows", len(split))
    assert classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert sorted({label for label, _ in train}) == [0, 1, 2, 3]
    assert all(4 * sum(1 for label, _ in test if label == c) == len(test) for c in range(4))
    assert not any("#39;" in text or "\\" in text for _, text in train)


def test_load_dataset_names_the_variant(capsys, tmp_path, offline_mirror):
    train, test, _, _ = torchnlp.load_dataset(torchnlp.ensure_ag_news(tmp_path / "d", mirror=offline_mirror))
    assert capsys.readouterr().out.startswith(f"AG News (offline variant): {len(train):,} train / {len(test):,} test "
                                              "rows, 4 classes")
    assert torchnlp.variant_label("offline variant") == "offline variant"


def test_mirror_is_copied_and_verified(tmp_path, offline_mirror):
    data_dir = torchnlp.ensure_ag_news(tmp_path / "data", mirror=offline_mirror)
    assert ag_news.verify_against_manifest(data_dir)["name"] == "ag_news_offline"


def test_corrupted_local_copy_is_refused(tmp_path, offline_mirror):
    data_dir = torchnlp.ensure_ag_news(tmp_path / "data", mirror=offline_mirror)
    with open(data_dir / "test.csv", "a") as f:
        f.write('"1","extra","row"\n')
    with pytest.raises(DataError, match=r"test.csv is corrupted: sha256 .* expected b3c3efc3"):
        torchnlp.ensure_ag_news(data_dir)


def test_corrupted_mirror_is_refused_before_copying(tmp_path, offline_mirror):
    mirror = tmp_path / "mirror"
    shutil.copytree(offline_mirror, mirror)
    (mirror / "train.csv").write_text('"1","a","b"\n')
    with pytest.raises(DataError, match="train.csv is corrupted"):
        torchnlp.ensure_ag_news(tmp_path / "data", mirror=mirror)
    assert not (tmp_path / "data").exists()


def test_missing_mirror_files_are_named_with_the_fix(tmp_path):
    (tmp_path / "mirror").mkdir()
    with pytest.raises(DataError, match=r"lacks train.csv, test.csv, classes.txt.*Set AG_NEWS_MIRROR"):
        torchnlp.ensure_ag_news(tmp_path / "data", mirror=tmp_path / "mirror")


# --- the download path, against a server on 127.0.0.1 -------------------------------------------------------

TRAIN = b'"1","Title","Description"\n' * 200
TEST = b'"2","Sport","Match"\n' * 50


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/train.csv": TRAIN, "/test.csv": TEST, "/corrupt.csv": TEST[:-1] + b"X"}.get(self.path)
        if self.path == "/cut.csv":  # promises the whole file, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(TRAIN)))
            self.end_headers()
            self.wfile.write(TRAIN[: len(TRAIN) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def md5(data):
    return hashlib.md5(data).hexdigest()


def test_download_good_file(tmp_path, server):
    dest = ag_news.download(f"{server}/train.csv", tmp_path / "train.csv", md5=md5(TRAIN), progress=False)
    assert dest.read_bytes() == TRAIN
    assert list(tmp_path.iterdir()) == [dest]


def test_download_corrupted_file_is_refused_and_nothing_left(tmp_path, server):
    with pytest.raises(DataError, match=f"corrupted: md5 .*expected {md5(TEST)}"):
        ag_news.download(f"{server}/corrupt.csv", tmp_path / "test.csv", md5=md5(TEST), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_cut_mid_transfer_leaves_no_partial_file(tmp_path, server):
    with pytest.raises(DataError, match="nothing was saved|cut off"):
        ag_news.download(f"{server}/cut.csv", tmp_path / "train.csv", md5=md5(TRAIN), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_download_refused_connection_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="AG_NEWS_MIRROR"):
        ag_news.download("http://127.0.0.1:9/train.csv", tmp_path / "train.csv", progress=False, timeout=5)


def test_ensure_ag_news_downloads_verifies_and_writes_a_manifest(tmp_path, server, monkeypatch):
    monkeypatch.delenv("AG_NEWS_MIRROR", raising=False)
    monkeypatch.setitem(ag_news.AG_NEWS_MD5, "train.csv", md5(TRAIN))
    monkeypatch.setitem(ag_news.AG_NEWS_MD5, "test.csv", md5(TEST))
    urls = {"train.csv": f"{server}/train.csv", "test.csv": f"{server}/test.csv"}
    data_dir = torchnlp.ensure_ag_news(tmp_path / "data", urls=urls, progress=False)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["name"] == "ag_news_official"
    train, test, classes, _ = torchnlp.load_dataset(data_dir, verbose=False)
    assert (len(train), len(test), classes) == (200, 50, ag_news.CLASSES)
    # Later loads check the downloaded files against the manifest written beside them.
    (data_dir / "train.csv").write_bytes(TRAIN[:-1])
    with pytest.raises(DataError, match="train.csv is corrupted"):
        torchnlp.ensure_ag_news(data_dir)


def test_ensure_ag_news_with_a_corrupted_download_saves_nothing(tmp_path, server, monkeypatch):
    monkeypatch.delenv("AG_NEWS_MIRROR", raising=False)
    urls = {"train.csv": f"{server}/train.csv", "test.csv": f"{server}/corrupt.csv"}
    with pytest.raises(DataError, match="corrupted"):
        torchnlp.ensure_ag_news(tmp_path / "data", urls=urls, progress=False)
    assert not (tmp_path / "data" / "test.csv").exists()


# --- the official release's layouts, and the training sample ------------------------------------------------

def small_official_mirror(folder, source, kaggle=False):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from make_official_mirror import make_official_mirror

    return make_official_mirror(folder, source, kaggle=kaggle, train_per_class=5, test_per_class=2)


def test_official_and_kaggle_layouts_read_the_same_rows(tmp_path, offline_mirror, capsys):
    official = small_official_mirror(tmp_path / "official", offline_mirror)
    kaggle = small_official_mirror(tmp_path / "kaggle", offline_mirror, kaggle=True)
    assert (kaggle / "train.csv").read_text().startswith("Class Index,Title,Description\n\"")
    assert (official / "train.csv").read_text().startswith('"')  # header-less, every field quoted
    rows = torchnlp.read_ag_news_csv(official / "train.csv")
    assert collections.Counter(label for label, _ in rows) == {0: 5, 1: 5, 2: 5, 3: 5}
    assert capsys.readouterr().out == ""
    assert torchnlp.read_ag_news_csv(kaggle / "train.csv") == rows
    said = capsys.readouterr().out
    assert "Kaggle" in said and "Class Index,Title,Description" in said and "skipped" in said
    torchnlp.read_ag_news_csv(kaggle / "train.csv")
    assert capsys.readouterr().out == ""  # said once per file


def test_a_kaggle_copy_provisions_and_loads(tmp_path, offline_mirror):
    kaggle = small_official_mirror(tmp_path / "kaggle", offline_mirror, kaggle=True)
    train, test, classes, _ = torchnlp.load_dataset(torchnlp.ensure_ag_news(tmp_path / "data", mirror=kaggle),
                                                    verbose=False)
    assert (len(train), len(test)) == (20, 8) and classes == ["World", "Sports", "Business", "Sci/Tech"]


def test_a_header_further_down_is_an_error_naming_the_line(tmp_path):
    path = write_csv(tmp_path / "t.csv", '"1","a","b"\nClass Index,Title,Description\n')
    with pytest.raises(DataError, match=r"line 2: class 'Class Index' is not one of 1, 2, 3, 4"):
        torchnlp.read_ag_news_csv(path)


def items(counts):
    return [(label, f"text {label} {i}") for label, count in enumerate(counts) for i in range(count)]


def test_training_sample_is_stratified_seeded_and_keeps_the_order():
    dataset = items([30, 30, 30, 10])
    sample = torchnlp.training_sample(dataset, 50, seed=0)
    assert len(sample) == 50 and collections.Counter(label for label, _ in sample) == {0: 15, 1: 15, 2: 15, 3: 5}
    assert sample == sorted(sample, key=dataset.index)
    assert sample == torchnlp.training_sample(dataset, 50, seed=0) != torchnlp.training_sample(dataset, 50, seed=1)
    assert len(torchnlp.training_sample(dataset, 7, seed=0)) == 7  # rounded by the largest remainders


def test_a_sample_as_large_as_the_data_keeps_every_row_as_it_was():
    dataset = items([3, 3, 3, 3])
    for size in (None, 12, 10**6):
        assert torchnlp.training_sample(dataset, size) == dataset


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_a_sample_size_that_is_no_count_is_refused(size):
    with pytest.raises(ValueError, match="sample size"):
        torchnlp.training_sample(items([3, 3, 3, 3]), size)


def test_train_samples_by_device_and_from_the_environment(monkeypatch):
    import torch

    monkeypatch.delenv("TRAIN_SAMPLES", raising=False)
    assert torchnlp.train_samples(torch.device("cpu")) == torchnlp.TRAIN_SAMPLES_BY_DEVICE["cpu"]
    assert torchnlp.train_samples(torch.device("cuda")) == torchnlp.TRAIN_SAMPLES_BY_DEVICE["accelerator"]
    for setting, expected in (("all", None), ("ALL", None), ("2,000", 2000), ("20_000", 20000), ("500", 500)):
        monkeypatch.setenv("TRAIN_SAMPLES", setting)
        assert torchnlp.train_samples("cpu") == expected
    for setting in ("0", "-5", "many"):
        monkeypatch.setenv("TRAIN_SAMPLES", setting)
        with pytest.raises(ValueError, match=f"TRAIN_SAMPLES='{setting}'.*'all'"):
            torchnlp.train_samples("cpu")
