"""LeRobotDataset v3 read/write, for footage corpora and robot demonstrations alike (a ground floor)."""

from egovla.dataset.dataset import DatasetError, LeRobotDataset
from egovla.dataset.layout import CODEBASE_VERSION, camera, vector

__all__ = ["CODEBASE_VERSION", "DatasetError", "LeRobotDataset", "camera", "vector"]
