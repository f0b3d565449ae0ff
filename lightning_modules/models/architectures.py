"""The Sequential reference networks under their former names: ``lfc``, ``lenet5``, ``cnv`` are the zoo's
``lfc_seq``, ``lenet5_seq``, ``cnv_seq`` (``brevitas_abc.models.sequential_nets``; kept importable here for
scripts written before the zoo had them)."""
from brevitas_abc.models.sequential_nets import cnv_seq as cnv
from brevitas_abc.models.sequential_nets import lenet5_seq as lenet5
from brevitas_abc.models.sequential_nets import lfc_seq as lfc

ARCHITECTURES = {"lfc": lfc, "lenet5": lenet5, "cnv": cnv}
