"""Knowledge distillation from a frozen float teacher (Hinton et al. 2015): the soft-target loss and
loading a teacher's weights from a ``ClassificationModule`` checkpoint."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch.

    The ``T^2`` factor keeps the gradient scale independent of ``T``.
    """
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)
    return F.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean") * temperature ** 2


def model_state_from_checkpoint(path: str, prefix: str = "model.") -> dict[str, Tensor]:
    """The ``prefix``-ed entries of a Lightning checkpoint's ``state_dict``, with the prefix removed
    (a plain state dict without that prefix is returned as it is).

    Raises:
        ValueError: the file holds no state dict.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path!r} holds no state_dict")
    if any(key.startswith(prefix) for key in state):
        return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    return state


QUANTISER_KEYS = ("weight_quant.", "input_quant.", "act_quant.")


def load_stage_weights(model: nn.Module, path: str) -> list[str]:
    """Load the previous stage's weights into ``model`` (staged recipe: float -> ABC weights -> ABC
    weights and activations). Keys the previous stage lacks are allowed only for quantiser state that
    the new stage adds (``weight_quant.*``, ``input_quant.*``, ...); returns those names.

    Raises:
        ValueError: the checkpoint has weights the model does not, or lacks non-quantiser weights; the
            message lists them.
    """
    try:
        result = model.load_state_dict(model_state_from_checkpoint(path), strict=False)
    except RuntimeError as error:  # shape mismatches
        raise ValueError(f"init_from={path!r} does not fit the model: {error}") from error
    missing = [k for k in result.missing_keys if not any(q in k for q in QUANTISER_KEYS)]
    if result.unexpected_keys or missing:
        raise ValueError(f"init_from={path!r} does not fit the model: unexpected keys {result.unexpected_keys[:8]}, "
                         f"missing keys {missing[:8]}")
    return list(result.missing_keys)
