"""One rewrite per test: build a tiny graph, apply the transformation, execute before and after."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from finn_flow.execute import GraphExecutor
from finn_flow.transformations import (
    AbsorbReluIntoMultiThreshold,
    ClipXnorThresholdsToPopcountRange,
    DuplicateSharedBipolarThresholds,
    DuplicateSharedWeightQuantizers,
    ExtractIntegerBranchScales,
    FuseBinaryBasesIntoIntegerWeights,
    InsertIntegerInputScaling,
)
from finn_flow.transformations.abc_branches import integer_decomposition

pytestmark = pytest.mark.finn
RNG = np.random.default_rng(0)


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _mt(inp, thr, out, bipolar=True, name=None):
    kwargs = dict(out_dtype="BIPOLAR", out_scale=2.0, out_bias=-1.0) if bipolar else dict(out_dtype="UINT2")
    return helper.make_node("MultiThreshold", [inp, thr], [out], domain="qonnx.custom_op.general",
                            name=name or out, **kwargs)


def _model(nodes, inputs, outputs, inits, datatypes=None):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = ModelWrapper(qonnx_make_model(graph))
    for name, value in inits.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    for name, dt in (datatypes or {}).items():
        model.set_tensor_datatype(name, DataType[dt])
    return model.transform(InferShapes())


def _run(model, x):
    return GraphExecutor(model).run(x)[model.graph.output[0].name]


def _abc_layer(k=16, c=8, m=3, n=2, integer=True):
    """sum_mn c_mn * MatMul(H_n, B_m), H_n = bipolar thresholds of x at t_n (the ABC export form)."""
    nodes, inits, dts, terms = [], {}, {}, []
    for j in range(n):
        inits[f"t{j}"] = np.full((1, 1), RNG.normal())
        nodes.append(_mt("x", f"t{j}", f"h{j}"))
    scale = 0.0173
    for i in range(m):
        inits[f"w{i}"] = RNG.choice([-1.0, 1.0], size=(k, c))
        dts[f"w{i}"] = "BIPOLAR"
        for j in range(n):
            coeff = RNG.integers(1, 5, size=(1, c)) * scale if integer else RNG.uniform(0.1, 1, (1, c))
            inits[f"c{i}{j}"] = coeff
            nodes += [helper.make_node("MatMul", [f"h{j}", f"w{i}"], [f"p{i}{j}"]),
                      helper.make_node("Mul", [f"p{i}{j}", f"c{i}{j}"], [f"q{i}{j}"])]
            terms.append(f"q{i}{j}")
    acc = terms[0]
    for t, term in enumerate(terms[1:]):
        out = "y" if t == len(terms) - 2 else f"s{t}"
        nodes.append(helper.make_node("Add", [acc, term], [out]))
        acc = out
    return _model(nodes, [_vi("x", [1, k])], [_vi("y", [1, c])], inits, dts)


def test_duplicate_shared_bipolar_thresholds_gives_each_consumer_a_copy():
    nodes = [_mt("x", "t", "h"),
             helper.make_node("MatMul", ["h", "w0"], ["a"]), helper.make_node("MatMul", ["h", "w1"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["y"])]
    inits = {"t": [[0.1]], "w0": RNG.choice([-1.0, 1.0], (6, 4)), "w1": RNG.choice([-1.0, 1.0], (6, 4))}
    model = _model(nodes, [_vi("x", [1, 6])], [_vi("y", [1, 4])], inits)
    x = RNG.normal(size=(1, 6)).astype(np.float32)
    before = _run(model, x)
    after_model = model.transform(DuplicateSharedBipolarThresholds())
    assert len(after_model.get_nodes_by_op_type("MultiThreshold")) == 2
    assert all(len(after_model.find_consumers(mt.output[0])) == 1
               for mt in after_model.get_nodes_by_op_type("MultiThreshold"))
    np.testing.assert_array_equal(_run(after_model, x), before)


def test_clip_thresholds_to_unsigned_input_range_is_exact():
    thr = np.array([[-5.0, 0.5, 3.0, 300.0]])
    model = _model([_mt("x", "t", "y", bipolar=False)], [_vi("x", [1, 1])], [_vi("y", [1, 1])],
                   {"t": thr}, {"x": "UINT8"})
    clipped = model.transform(ClipXnorThresholdsToPopcountRange())
    new = clipped.get_initializer("t")
    assert new.min() >= 0 and new.max() <= 256
    for v in [0, 1, 3, 4, 255]:
        x = np.array([[v]], dtype=np.float32)
        np.testing.assert_array_equal(_run(clipped, x), _run(model, x))


def test_absorb_relu_into_thresholds_is_exact():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "c"], ["a"]),
             _mt("a", "t", "y")]
    model = _model(nodes, [_vi("x", [1, 5])], [_vi("y", [1, 5])], {"c": -0.3, "t": [[0.2]]})
    rewritten = model.transform(AbsorbReluIntoMultiThreshold())
    assert not rewritten.get_nodes_by_op_type("Relu") and not rewritten.get_nodes_by_op_type("Add")
    x = np.array([[-2.0, -0.1, 0.0, 0.4, 0.6]], dtype=np.float32)
    np.testing.assert_array_equal(_run(rewritten, x), _run(model, x))


def test_insert_input_scaling_annotates_integer_input():
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = _model(nodes, [_vi("x", [1, 3])], [_vi("y", [1, 3])], {})
    scaled = model.transform(InsertIntegerInputScaling(1 / 255, "UINT8"))
    assert scaled.get_tensor_datatype("x") == DataType["UINT8"]
    x = np.array([[0, 128, 255]], dtype=np.float32)
    np.testing.assert_allclose(_run(scaled, x), x / 255, rtol=1e-6)
    with pytest.raises(ValueError, match="input_datatype"):
        InsertIntegerInputScaling(1.0, "FLOAT32")


def test_duplicate_shared_weight_quantizers_copies_initializers():
    nodes = [helper.make_node("BipolarQuant", ["w", "s"], ["wq"], domain="qonnx.custom_op.general"),
             helper.make_node("MatMul", ["x", "wq"], ["a"]), helper.make_node("MatMul", ["x2", "wq"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["y"])]
    model = _model(nodes, [_vi("x", [1, 4]), _vi("x2", [1, 4])], [_vi("y", [1, 4])],
                   {"w": RNG.normal(size=(4, 4)), "s": 1.0})
    split = model.transform(DuplicateSharedWeightQuantizers())
    quants = split.get_nodes_by_op_type("BipolarQuant")
    assert len(quants) == 2 and quants[0].input[0] != quants[1].input[0]


def test_integer_decomposition():
    q = np.array([[1, 3], [2, 6], [4, 1]], dtype=float)
    s = np.array([0.013, 0.2])
    q_found, s_found = integer_decomposition(q * s)
    np.testing.assert_allclose(q_found * s_found, q * s, rtol=1e-9)
    assert integer_decomposition(np.array([[1.0], [np.sqrt(2)]]))[0] is None


@pytest.mark.parametrize("transform", [ExtractIntegerBranchScales, FuseBinaryBasesIntoIntegerWeights])
def test_abc_branch_mappings_are_exact(transform):
    model = _abc_layer()
    x = RNG.normal(size=(1, 16)).astype(np.float32)
    before = _run(model, x)
    rewrite = transform(strict=True)
    mapped = model.transform(rewrite)
    np.testing.assert_allclose(_run(mapped, x), before, rtol=1e-5, atol=1e-6)
    matmuls = mapped.get_nodes_by_op_type("MatMul")
    if transform is FuseBinaryBasesIntoIntegerWeights:
        assert len(matmuls) == 2  # one integer MatMul per activation base (N = 2), not M*N = 6
        assert all(mapped.get_tensor_datatype(m.input[1]).is_integer() for m in matmuls)
    else:
        assert len(matmuls) == 6
        coeffs = [mapped.get_initializer(n.input[1]) for n in mapped.get_nodes_by_op_type("Mul")[:-1]]
        assert all(np.array_equal(c, np.round(c)) for c in coeffs)


def test_abc_mapping_names_the_layer_when_coefficients_are_free_floats():
    with pytest.raises(ValueError, match="not integer multiples"):
        _abc_layer(integer=False).transform(ExtractIntegerBranchScales(strict=True))


def test_absorb_relu_into_per_channel_thresholds_is_exact():
    # Group-Net: sign(Relu(y) + t_c) with one threshold t_c per channel
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["r", "c"], ["a"]),
             _mt("a", "t", "y")]
    c = np.array([[-0.3, 0.2, -0.05]])
    model = _model(nodes, [_vi("x", [1, 3])], [_vi("y", [1, 3])], {"c": c, "t": [[0.1]]})
    rewritten = model.transform(AbsorbReluIntoMultiThreshold())
    assert not rewritten.get_nodes_by_op_type("Relu") and not rewritten.get_nodes_by_op_type("Add")
    assert rewritten.get_initializer(rewritten.graph.node[0].input[1]).shape == (3, 1)
    for row in ([-2.0, -0.1, 0.0], [0.39, -0.1, 0.2], [0.41, 0.0, 0.149], [0.5, 1.0, 0.151]):
        x = np.array([row], dtype=np.float32)
        np.testing.assert_array_equal(_run(rewritten, x), _run(model, x))


@pytest.mark.parametrize("xnor", [False, True])
def test_plus_one_padding_becomes_zero_padding_plus_border_bias(xnor):
    from finn_flow.transformations import AbsorbZeroPadIntoIm2Col, ConvertPadValueToBorderBias

    op = "XnorPopcountMatMul" if xnor else "MatMul"
    kwargs = dict(domain="qonnx.custom_op.general") if xnor else {}
    nodes = [helper.make_node("Pad", ["b", "pads", "one"], ["p"], mode="constant", name="the_pad"),
             helper.make_node("Transpose", ["p"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Im2Col", ["t"], ["c"], domain="qonnx.custom_op.general", stride=[1, 1],
                              kernel_size=[3, 3], input_shape="(1,7,6,2)"),
             helper.make_node(op, ["c", "w"], ["y"], **kwargs)]
    w = RNG.integers(0, 2, (18, 4)) if xnor else RNG.integers(-3, 4, (18, 4))
    inits = {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1]), "one": np.float32(1.0), "w": w}
    model = _model(nodes, [_vi("b", [1, 2, 5, 4])], [_vi("y", [1, 5, 4, 4])], inits,
                   {"b": "BINARY", "p": "BINARY", "t": "BINARY", "w": "BINARY" if xnor else "INT3"})
    model.set_initializer("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64))  # ONNX wants int64
    model = model.transform(InferShapes())
    rewritten = model.transform(ConvertPadValueToBorderBias()).transform(AbsorbZeroPadIntoIm2Col())
    assert not rewritten.get_nodes_by_op_type("Pad")
    im2col = rewritten.get_nodes_by_op_type("Im2Col")[0]
    assert [a.ints for a in im2col.attribute if a.name == "pad_amount"][0] == [1, 1, 1, 1]
    bias = rewritten.get_initializer(rewritten.get_nodes_by_op_type("Add")[0].input[1])
    assert np.array_equal(bias, np.round(bias)) and bias[0, 2, 1].tolist() == [0] * 4  # interior: no bias
    for _ in range(5):
        x = RNG.integers(0, 2, (1, 2, 5, 4)).astype(np.float32)
        np.testing.assert_array_equal(_run(rewritten, x), _run(model, x))


def test_move_transpose_past_channel_linear_and_flatten_past_thresholds_are_exact():
    from finn_flow.transformations import (
        InsertTransposePairBeforeFlatten,
        MoveFlattenPastMultiThreshold,
        MoveTransposePastChannelLinear,
    )

    # NHWC conv output -> Transpose -> per-channel Mul -> Reshape (flatten 2x2x3) -> Add(v) -> thresholds
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Mul", ["t", "c"], ["m"]),
             helper.make_node("Reshape", ["m", "shape"], ["f"]),
             helper.make_node("Add", ["f", "v"], ["a"]), _mt("a", "thr", "y")]
    model = _model(nodes, [_vi("x", [1, 2, 2, 3])], [_vi("y", [1, 12])],
                   {"c": RNG.uniform(0.5, 2, (1, 3, 1, 1)), "v": -0.2, "thr": [[0.3]], "shape": [1, 12]})
    model.set_initializer("shape", np.array([1, 12], dtype=np.int64))
    model = model.transform(InferShapes())
    x = RNG.normal(size=(1, 2, 2, 3)).astype(np.float32)
    before = _run(model, x)
    moved = model.transform(MoveTransposePastChannelLinear()).transform(MoveFlattenPastMultiThreshold())
    moved = moved.transform(InsertTransposePairBeforeFlatten())
    assert [n.op_type for n in moved.graph.node] == ["Mul", "Transpose", "Add", "MultiThreshold", "Transpose",
                                                     "Transpose", "Reshape"]
    np.testing.assert_array_equal(_run(moved, x), before)


@pytest.mark.parametrize("spatial, consumer, removed", [(1, "MultiThreshold", True), (2, "MultiThreshold", False),
                                                        (1, "Mul", False)])
def test_trivial_transpose_before_flatten_is_removed_only_before_thresholds(spatial, consumer, removed):
    from finn_flow.transformations import RemoveTrivialTransposeBeforeReshape

    # Add -> Transpose NHWC->NCHW -> Reshape (flatten) -> thresholds (or a Mul, which FINN's flatten removal breaks)
    channels = 4
    flat = spatial * spatial * channels
    last = _mt("f", "thr", "y") if consumer == "MultiThreshold" else helper.make_node("Mul", ["f", "thr"], ["y"])
    nodes = [helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Transpose", ["a"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Reshape", ["t", "shape"], ["f"]), last]
    model = _model(nodes, [_vi("x", [1, spatial, spatial, channels])], [_vi("y", [1, flat])],
                   {"b": 0.25, "thr": [[0.3]]})
    model.set_initializer("shape", np.array([1, flat], dtype=np.int64))
    model = model.transform(InferShapes())
    x = RNG.normal(size=(1, spatial, spatial, channels)).astype(np.float32)
    after = model.transform(RemoveTrivialTransposeBeforeReshape())
    assert ("Transpose" not in [n.op_type for n in after.graph.node]) == removed
    np.testing.assert_array_equal(_run(after, x), _run(model, x))
