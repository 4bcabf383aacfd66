"""Model engines for Reading Room: MedASR dictation and MedGemma study analysis.

This package knows nothing of Django. torch and transformers are imported
lazily, inside the functions that need them, so importing ``inference`` costs
nothing. Entry points:

- :func:`inference.loading.load_asr` / :func:`inference.loading.load_medgemma`
  load a model once per process from a hub id or a local directory.
- :class:`inference.medasr.StreamingTranscriber` turns 16 kHz PCM chunks into
  partial and final transcript events.
- :func:`inference.medgemma.analyze` runs one analysis task on prepared images.
- :mod:`inference.preprocessing` turns pydicom datasets into model images and
  maps boxes back to source pixels.
"""

from inference.errors import InferenceCancelled, ModelNotInstalled

__all__ = ["InferenceCancelled", "ModelNotInstalled"]
