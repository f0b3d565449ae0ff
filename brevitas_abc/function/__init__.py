"""Pure tensor math of the project, with straight-through estimators (STE). No modules, no state."""
from brevitas_abc.function.abc_weight import abc_weight_bases, ridge_least_squares_alpha, group_mean_std
from brevitas_abc.function.integer_coefficients import (
    COEFFICIENT_BITS,
    integer_coefficients,
    max_coefficient_int,
    power_of_two_integers,
    round_ste,
)
from brevitas_abc.function.ste import (
    compiled_kernels_enabled,
    multi_binary_act_ste,
    shifted_binary_act_ste,
    sign_ste,
    use_compiled_kernels,
    use_default_kernels,
)

__all__ = ["COEFFICIENT_BITS", "abc_weight_bases", "group_mean_std", "integer_coefficients", "max_coefficient_int",
           "power_of_two_integers", "round_ste", "multi_binary_act_ste", "ridge_least_squares_alpha", "shifted_binary_act_ste", "sign_ste", "use_compiled_kernels",
           "use_default_kernels", "compiled_kernels_enabled"]
