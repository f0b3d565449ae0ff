"""``lfc_brevitas_w1a1`` under its former import path; it lives with the other stock-Brevitas baselines in
``brevitas_abc.models.brevitas_baselines`` (zoo name ``lfc_brevitas_w1a1``)."""
from brevitas_abc.models.brevitas_baselines import lfc_brevitas_w1a1

__all__ = ["lfc_brevitas_w1a1"]
