"""step_progress: heartbeat lines naming the transformation running inside a long step, and the step's time."""
import time

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from finn_flow.progress import step_progress


class SleepAWhile(Transformation):
    def apply(self, model):
        time.sleep(0.35)
        return model, False


def _tiny_model() -> ModelWrapper:
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [inp], [out])
    return ModelWrapper(helper.make_model(graph))


def test_heartbeat_names_the_running_transformation_and_the_step_time():
    lines = []
    original = ModelWrapper.transform
    with step_progress("step_slow", heartbeat_s=0.1, emit=lines.append):
        _tiny_model().transform(SleepAWhile())
    assert ModelWrapper.transform is original  # restored
    beats = [line for line in lines if "still running" in line]
    assert len(beats) >= 2 and all("transformation SleepAWhile" in line for line in beats), lines
    assert lines[-1].startswith("[finn_flow] step_slow done in 0.") and lines[-1].endswith(" s")


def test_no_heartbeat_for_a_quick_step_and_none_when_disabled():
    lines = []
    with step_progress("step_quick", heartbeat_s=5, emit=lines.append):
        np.zeros(3)
    assert len(lines) == 1 and "step_quick done in" in lines[0]
    with step_progress("step_off", heartbeat_s=None, emit=lines.append):
        time.sleep(0.05)
    assert len(lines) == 2
