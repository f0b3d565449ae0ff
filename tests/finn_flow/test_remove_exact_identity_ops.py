"""RemoveExactIdentityOps and exact_identity_removal: qonnx's ``RemoveIdentityOps`` drops a ``Mul`` by 0.999995 (an
untrained BatchNorm, ``1 / sqrt(1 + eps)``), which flips binary decisions near a threshold; within a build only
exact identities go. The build test is the regression that showed it: an untrained ABC CNV with an 8-bit input
quantiser and a +1-padded conv, bitwise mapping, every stage exact on real CIFAR-10 images (it also covers the
``Pad`` opset fix of :mod:`finn_flow.transformations.pad_border_bias`)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.remove import RemoveIdentityOps
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations.remove_exact_identity_ops import RemoveExactIdentityOps, exact_identity_removal


def _chain(constants: list[tuple[str, float]]) -> ModelWrapper:
    """x -> op_1(c_1) -> ... -> Relu -> y on a [1, 4] float input (qonnx never removes a graph's last node)."""
    nodes, names = [], ["x"]
    for i, (op, _) in enumerate(constants):
        names.append(f"t{i}")
        nodes.append(helper.make_node(op, [names[-2], f"c{i}"], [names[-1]], name=f"{op}_{i}"))
    nodes.append(helper.make_node("Relu", [names[-1]], ["y"], name="Relu_0"))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(qonnx_make_model(graph))
    for i, (_, value) in enumerate(constants):
        model.set_initializer(f"c{i}", np.full((1, 4), value, dtype=np.float32))
    return model


UNTRAINED_BN_SCALE = float(np.float32(1 / np.sqrt(1 + 1e-5)))  # 0.999995


def test_qonnx_removes_an_untrained_batchnorm_scale_and_the_exact_removal_keeps_it():
    chain = [("Mul", UNTRAINED_BN_SCALE), ("Mul", 1.0), ("Add", 0.0), ("Div", 1.0), ("Sub", 1e-6)]
    assert [n.op_type for n in _chain(chain).transform(RemoveIdentityOps()).graph.node] == ["Relu"]  # why
    kept = _chain(chain).transform(RemoveExactIdentityOps())
    assert [(n.op_type, float(kept.get_initializer(n.input[1]).flat[0])) for n in kept.graph.node[:-1]] == [
        ("Mul", UNTRAINED_BN_SCALE), ("Sub", float(np.float32(1e-6)))]
    assert kept.graph.node[-1].op_type == "Relu"


def test_exact_identity_removal_patches_qonnx_class_for_its_duration_only():
    chain = [("Mul", UNTRAINED_BN_SCALE), ("Add", 0.0)]
    with exact_identity_removal():
        inside = _chain(chain).transform(RemoveIdentityOps())
    after = _chain(chain).transform(RemoveIdentityOps())
    assert [n.op_type for n in inside.graph.node] == ["Mul", "Relu"]
    assert [n.op_type for n in after.graph.node] == ["Relu"]


def test_zero_pad_and_identity_still_removed():
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["a"], name="Identity_0"),
         helper.make_node("Pad", ["a", "pads"], ["b"], name="Pad_0", mode="constant"),
         helper.make_node("Relu", ["b"], ["y"], name="Relu_0")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("pads", np.zeros(4, dtype=np.int64))
    assert [n.op_type for n in model.transform(RemoveExactIdentityOps()).graph.node] == ["Relu"]


@pytest.mark.finn
@pytest.mark.slow
def test_untrained_abc_cnv_with_input_quantizer_builds_bitwise_exactly(tmp_path):
    import finn_flow
    from tests.conftest import cifar_test_uint8
    from tests.finn_flow.abc_models import abc_cnv_with_input_quantizer

    images, _ = cifar_test_uint8(4)
    result = finn_flow.build(abc_cnv_with_input_quantizer(), tmp_path / "out", abc_mapping="bitwise",
                             verify_inputs=images, codegen=False, summary=False,
                             preprocessing={"pixel_scale": 1 / 255, "mean": [0.5] * 3, "std": [0.25] * 3})
    assert [v["stage"] for v in result.verification] == ["qonnx", "streamlined", "hw_layers", "folded"]
    for stage in result.verification:
        assert stage["images"] == len(images) and stage["max_abs_diff"] == 0.0, stage
