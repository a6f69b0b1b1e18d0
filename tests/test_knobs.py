"""Experimenting is not punished: a changed knob gives a note, the course's own settings keep their guarantees."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from transformers import BertConfig, BertForSequenceClassification

import torchnlp

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_expect_passes_a_true_condition_quietly(capsys):
    torchnlp.expect(True, "never shown", course_settings=False)
    assert capsys.readouterr().out == ""


def test_expect_raises_with_the_course_settings():
    with pytest.raises(AssertionError, match="below the stored run"):
        torchnlp.expect(False, "accuracy 0.5, below the stored run's 0.9")


def test_expect_notes_a_changed_knob_instead_of_raising(capsys, monkeypatch):
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    torchnlp.expect(False, "accuracy 0.5, below the stored run's 0.9", course_settings=False)
    assert capsys.readouterr().out == "Note: accuracy 0.5, below the stored run's 0.9\n"


def test_course_strict_raises_whatever_the_settings(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(AssertionError):
        torchnlp.expect(False, "strict", course_settings=False)


def test_fine_tune_closes_its_progress_bar_with_a_plain_line(ag_news, tokenizer, tmp_path):
    """A static viewer shows a widget bar as 0%: the plain line after it says what happened."""
    features = torchnlp.encode_for_bert(ag_news[0][:32], tokenizer, max_length=32)
    config = torchnlp.TrainConfig(epochs=1, batch_size=8, lr=1e-3, report_freq=2, save_every=100)
    lines = []

    def train():
        torchnlp.set_seed(0)
        model = BertForSequenceClassification(BertConfig(
            vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, num_labels=4))
        torchnlp.fine_tune(model, features, config, collate=torchnlp.PaddingCollator(0), tokenizer=tokenizer,
                           checkpoint_dir=tmp_path / "run", log=lines.append)

    train()
    assert lines[-1].startswith("fine-tuning: trained steps 1-4 of 4 in ") and "last report: loss" in lines[-1]
    train()  # the finished run is only loaded
    assert lines[-1] == "fine-tuning: the run of 4 steps had finished; loaded its checkpoint"


def test_notebook_02b_with_fewer_epochs_runs_to_the_end_with_notes(tmp_path, monkeypatch):
    """A learner sets EPOCHS = 1: the checks that one epoch cannot pass print notes, nothing raises."""
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    notebook = nbformat.read(NOTEBOOKS / "02b_transformer_classifier.ipynb", as_version=4)
    cells = {cell.get("id"): cell for cell in notebook.cells}
    assert "EPOCHS = COURSE_EPOCHS\n" in cells["c21"].source
    cells["c21"].source = cells["c21"].source.replace("EPOCHS = COURSE_EPOCHS\n", "EPOCHS = 1\n")
    # The copy must not replace the figures that notebook 06a reads.
    cells["c22"].source = cells["c22"].source.replace("torchnlp.save_notebook02_results(accuracy)", "")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()  # raises on any cell error
    notes = [output.text for output in cells["c23"].outputs if output.get("name") == "stdout"]
    assert any("Note: " in text and "the last epoch's loss is not below the first's" in text for text in notes)
