"""Group-Net configurations: one explicit frozen class per decomposition; ``GroupNetConfig(mode=...)`` builds
the matching one and refuses fields the mode does not use."""
import dataclasses

import pytest

from brevitas_abc.swap import (GroupNetBlockConfig, GroupNetConfig, GroupNetConfigBase, GroupNetGroupConfig,
                               GroupNetLayerConfig)


def test_each_mode_is_its_own_class_with_its_own_fields_and_defaults():
    layer, block, group = (GroupNetConfig(num_bases=3, mode=m) for m in ("layer", "block", "group"))
    assert (type(layer), type(block), type(group)) == (GroupNetLayerConfig, GroupNetBlockConfig, GroupNetGroupConfig)
    assert all(isinstance(c, GroupNetConfigBase) and c.num_bases == 3 for c in (layer, block, group))
    assert [c.mode for c in (layer, block, group)] == ["layer", "block", "group"]
    assert (layer.keep_first, layer.keep_last, block.keep_first, group.keep_last) == (True, True, False, False)
    assert [f.name for f in dataclasses.fields(group)] == ["num_bases", "gates", "gate_init", "keep_first",
                                                           "keep_last", "residual_bits"]
    assert GroupNetConfig() == GroupNetGroupConfig()                       # the default mode is "group"
    assert GroupNetConfig(2, "layer", branch_scale_bits=2) == GroupNetLayerConfig(num_bases=2, branch_scale_bits=2)
    assert GroupNetConfig(mode="layer", keep_first=None).keep_first is True   # None: the mode's default
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.num_bases = 4


def test_fields_of_another_mode_and_bad_values_are_errors():
    with pytest.raises(ValueError, match=r"gates=False is not allowed with mode='layer': expected mode='group'"):
        GroupNetConfig(mode="layer", gates=False)
    with pytest.raises(ValueError, match=r"branch_scale_bits=2 is not allowed with mode='group': expected "
                                         r"mode='layer'"):
        GroupNetConfig(mode="group", branch_scale_bits=2)
    with pytest.raises(ValueError, match=r"num_bses=2 is not allowed with mode='block': expected no such option"):
        GroupNetConfig(mode="block", num_bses=2)
    with pytest.raises(TypeError):
        GroupNetBlockConfig(gates=True)   # the explicit class has no such field
    with pytest.raises(ValueError, match=r"gate_init=1.0 is not allowed: expected a float in \(0, 1\)"):
        GroupNetGroupConfig(gate_init=1.0)
    with pytest.raises(ValueError, match=r"keep_first=1 is not allowed: expected True or False"):
        GroupNetLayerConfig(keep_first=1)
