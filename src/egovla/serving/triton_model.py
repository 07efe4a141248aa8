"""The Triton Python-backend model (copied as ``<repo>/<model>/<version>/model.py`` by ``export``).

The stub ignores PYTHONPATH and would import the system's numpy (numpy 2 silently empties tensors):
before anything else, the environment ``export`` recorded in ``paths.json`` beside this file goes first
on ``sys.path``. It imports egovla.serving only.
"""

import json
import site
import sys
from pathlib import Path

_paths = json.loads((Path(__file__).with_name("paths.json")).read_text())
site.addsitedir(_paths["site_packages"])  # .pth files too: an editable install's path hook
sys.path[:0] = [_paths["egovla_root"], _paths["site_packages"]]
for _name in [m for m in sys.modules if m == "numpy" or m.startswith("numpy.")]:
    del sys.modules[_name]

import triton_python_backend_utils as pb_utils  # noqa: E402 - provided by the stub, after the path fix

from egovla.serving.backend import PolicyBackend  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        threads = int(config["parameters"]["torch_threads"]["string_value"])
        folder = Path(args["model_repository"]) / args["model_version"] / "policy"
        self.backend = PolicyBackend(folder, threads)
        s = self.backend.signature
        self.keys = (s.image_key, s.state_key, "task")
        self.output = s.action_key

    def execute(self, requests):
        batch = []
        for request in requests:
            inputs = {}
            for key in self.keys:
                tensor = pb_utils.get_input_tensor_by_name(request, key)
                if tensor is not None:
                    inputs[key] = tensor.as_numpy()
            batch.append(inputs)
        responses = []
        for answer in self.backend.run(batch):
            if isinstance(answer, str):
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(answer)))
            else:
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(self.output, answer)]))
        return responses
