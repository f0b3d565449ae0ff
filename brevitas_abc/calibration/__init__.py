"""Post-training calibration of swapped networks: ``calibrate(model, batches)`` (ABC activations from data, ABC
weights fitted to their inputs, Brevitas quantisers by their ``calibration_mode``, BatchNorm re-estimation)."""
from brevitas_abc.calibration.act_fit import ActFit, fit_multi_binary_act, quantiser_levels
from brevitas_abc.calibration.batchnorm import reestimate_batchnorm
from brevitas_abc.calibration.calibrate import CalibrationReport, calibrate
from brevitas_abc.calibration.weight_fit import WeightFit, fit_abc_weights

__all__ = ["ActFit", "CalibrationReport", "WeightFit", "calibrate", "fit_abc_weights", "fit_multi_binary_act",
           "quantiser_levels", "reestimate_batchnorm"]
