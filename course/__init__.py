"""The course's machinery and its interactive parts; ``torchnlp.py`` at the top level is the lesson's own code.

Below torchnlp: files and checksums, AG News on disk, the BERT checkpoint and heads, checkpoints, training,
inference and i18n, which torchnlp re-exports for the notebooks; above it: the exercises' checks and their
feedback framework, the quiz, the explorer and the diagrams, which the notebooks import from here.
"""
