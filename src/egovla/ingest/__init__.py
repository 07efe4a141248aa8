"""Footage ingest: clips (files, folders, s3:// prefixes) -> a corpus of fixed-fps episodes."""

from egovla.ingest.config import IngestConfig
from egovla.ingest.stage import run
from egovla.ingest.store import Corpus

__all__ = ["Corpus", "IngestConfig", "run"]
