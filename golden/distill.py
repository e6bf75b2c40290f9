"""Knowledge distillation losses and gradients.

Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015,
section 2: soft targets ``q_i = exp(z_i / T) / sum_j exp(z_j / T)``; the
student minimises a mix of the hard-label cross entropy and the cross entropy
with the teacher's soft targets at temperature ``T``, the latter scaled by
``T^2`` so that its gradient keeps its magnitude as ``T`` changes (section
2.1). Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017,
equation (2): activation-based attention transfer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "distillation_loss", "distillation_grad", "attention_map",
           "attention_transfer_loss"]


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    """Softened softmax over the last axis: ``exp(z/T) / sum exp(z/T)``."""
    if t <= 0:
        raise ValueError(f"temperature must be positive, not {t!r}")
    z = np.asarray(z, dtype=np.float64) / t
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check(student, teacher, labels, lam):
    s = np.asarray(student, dtype=np.float64)
    t = np.asarray(teacher, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if s.shape != t.shape or s.ndim != 2 or y.shape != (s.shape[0],):
        raise ValueError("need (batch, classes) logits of one shape and (batch,) labels")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lambda must be in [0, 1], not {lam!r}")
    return s, t, y


def distillation_loss(student_logits, teacher_logits, labels, t: float = 4.0,
                      lam: float = 0.9) -> float:
    """Mean over the batch of
    ``(1 - lam) * CE(y, softmax(z_s)) + lam * T^2 * CE(softmax(z_t/T), softmax(z_s/T))``.
    """
    s, te, y = _check(student_logits, teacher_logits, labels, lam)
    p_s = softmax(s)
    hard = -np.log(np.maximum(p_s[np.arange(len(y)), y], 1e-300))
    q_t = softmax(te, t)
    log_q_s = np.log(np.maximum(softmax(s, t), 1e-300))
    soft = -(q_t * log_q_s).sum(axis=1)
    return float(np.mean((1 - lam) * hard + lam * t * t * soft))


def distillation_grad(student_logits, teacher_logits, labels, t: float = 4.0,
                      lam: float = 0.9) -> np.ndarray:
    """Gradient of ``distillation_loss`` w.r.t. the student logits:
    ``[(1 - lam)(p_s - onehot(y)) + lam * T * (q_s - q_t)] / batch``
    (Hinton et al. eq. 2 times ``T^2``)."""
    s, te, y = _check(student_logits, teacher_logits, labels, lam)
    onehot = np.zeros_like(s)
    onehot[np.arange(len(y)), y] = 1.0
    g = (1 - lam) * (softmax(s) - onehot) + lam * t * (softmax(s, t) - softmax(te, t))
    return g / s.shape[0]


def attention_map(a: np.ndarray, p: int = 2) -> np.ndarray:
    """``Q = vec(sum_c |A_c|^p)`` normalised to unit L2 norm, per sample.

    ``a`` has shape ``(batch, channels, h, w)``; returns ``(batch, h * w)``.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"need (batch, channels, h, w) activations, not shape {a.shape}")
    q = (np.abs(a) ** p).sum(axis=1).reshape(a.shape[0], -1)
    n = np.linalg.norm(q, axis=1, keepdims=True)
    return q / np.where(n > 0, n, 1.0)


def attention_transfer_loss(student_acts: list, teacher_acts: list, beta: float = 1e3,
                            p: int = 2) -> float:
    """``beta / 2 * sum_j || Q_s^j - Q_t^j ||_2`` averaged over the batch
    (Zagoruyko & Komodakis eq. 2) for pairs of same-sized activation maps."""
    if len(student_acts) != len(teacher_acts):
        raise ValueError("need one teacher map per student map")
    total = 0.0
    for s, t in zip(student_acts, teacher_acts):
        d = attention_map(s, p) - attention_map(t, p)
        total += float(np.mean(np.linalg.norm(d, axis=1)))
    return beta / 2.0 * total
