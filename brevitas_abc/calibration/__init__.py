"""Post-training calibration of swapped networks: ``calibrate(model, batches)`` (ABC activations from data,
Brevitas quantisers by their ``calibration_mode``, BatchNorm re-estimation)."""
from brevitas_abc.calibration.act_fit import ActFit, fit_multi_binary_act, quantiser_levels
from brevitas_abc.calibration.batchnorm import reestimate_batchnorm
from brevitas_abc.calibration.calibrate import CalibrationReport, calibrate

__all__ = ["ActFit", "CalibrationReport", "calibrate", "fit_multi_binary_act", "quantiser_levels",
           "reestimate_batchnorm"]
