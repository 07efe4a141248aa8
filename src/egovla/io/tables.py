"""Parquet reads that never hand pyarrow a Python file object.

``pd.read_parquet(local_path)`` opens the file in Python and gives pyarrow the handle. pyarrow can then
release that handle from one of its own worker threads while the interpreter shuts down, which aborts
the process ("terminate called without an active exception"), intermittently and only under load.
Naming the filesystem makes pyarrow open the file natively.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pyarrow import fs


def read_parquet(path: str | Path, **kwargs) -> pd.DataFrame:
    return pd.read_parquet(str(Path(path).resolve()), filesystem=fs.LocalFileSystem(), **kwargs)
