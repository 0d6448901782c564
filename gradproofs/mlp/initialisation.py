"""Weight initialisations and the synthetic data the dense theorems run on.

    nielsen     W ~ N(0, 1/n_in), b ~ N(0, 1)                      (Nielsen ch. 3 and 5)
    glorot      W ~ U(±√6/√(n_in + n_out)), Var = 2/(n_in + n_out), b = 0   (Glorot & Bengio 2010, eq. 16)
    he          W ~ N(0, 2/n_in), b = 0                             (He et al. 2015, §2.2)
    orthogonal  W = Q from the QR decomposition of a Gaussian matrix, b = 0   (Saxe et al. 2014)

Each takes the widths [n_0, …, n_L] and a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from gradproofs import _validate
from gradproofs.errors import InvalidArgument

__all__ = ["SCHEMES", "orthogonal_matrix", "initialise", "synthetic_images"]

SCHEMES = ("nielsen", "glorot", "he", "orthogonal")


def orthogonal_matrix(rows: int, columns: int, rng: np.random.Generator) -> np.ndarray:
    """A matrix with orthonormal rows or columns (whichever are fewer), Haar-distributed."""
    gaussian = rng.standard_normal((max(rows, columns), min(rows, columns)))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))  # the sign fix that makes Q Haar-distributed
    return q if rows >= columns else q.T


def initialise(widths, scheme: str, rng: np.random.Generator):
    """(weights, biases) for a network of ``widths`` drawn by ``scheme``."""
    _validate.choice("scheme", scheme, SCHEMES)
    widths = [_validate.positive_int(f"widths[{i}]", n) for i, n in enumerate(widths)]
    if len(widths) < 2:
        raise InvalidArgument(f"widths must name at least an input and an output width, got {widths}")
    weights, biases = [], []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        if scheme == "nielsen":
            weights.append(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in))
            biases.append(rng.standard_normal(n_out))
            continue
        if scheme == "glorot":
            limit = np.sqrt(6.0 / (n_in + n_out))
            weights.append(rng.uniform(-limit, limit, (n_out, n_in)))
        elif scheme == "he":
            weights.append(rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in))
        else:
            weights.append(orthogonal_matrix(n_out, n_in, rng))
        biases.append(np.zeros(n_out))
    return weights, biases


def synthetic_images(batch: int, rng: np.random.Generator, *, pixels: int = 784, classes: int = 10,
                     density: float = 0.19):
    """MNIST-like inputs: ``density`` of the pixels lit with U(0, 1) intensity; one-hot targets.

    (MNIST's digits light about 19% of their 784 pixels.)
    """
    batch = _validate.positive_int("batch", batch)
    lit = rng.random((batch, pixels)) < density
    x = np.where(lit, rng.random((batch, pixels)), 0.0)
    y = np.eye(classes)[rng.integers(0, classes, batch)]
    return x, y
