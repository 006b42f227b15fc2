"""Maps of the model's embedding space: a stratified sample, projected to 2-D with t-SNE."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

PCA_DIMENSIONS = 50
"""t-SNE runs on the first principal components; the usual speed-up, the map barely changes."""


def stratified_sample(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `size` items keeping the class proportions of `labels` (all if fewer)."""
    labels = np.asarray(labels)
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size!r}")
    if size >= len(labels):
        return np.arange(len(labels))
    # sklearn stratifies only with two faces per class and room for every class on both sides;
    # otherwise (tiny or odd data) a plain seeded sample is the honest fallback.
    counts = np.bincount(labels)
    present = counts[counts > 0]
    can_stratify = present.min() > 1 and min(size, len(labels) - size) >= len(present)
    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels if can_stratify else None, random_state=seed
    )
    return np.sort(chosen)


def tsne_map(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """float32 (N, 2) t-SNE coordinates of float (N, d) embeddings (N >= 4)."""
    embeddings = np.asarray(embeddings, np.float32)
    if embeddings.ndim != 2 or len(embeddings) < 4:
        raise ValueError(f"t-SNE needs at least 4 embeddings of shape (N, d), got shape {embeddings.shape}")
    if min(embeddings.shape) > PCA_DIMENSIONS:
        embeddings = PCA(n_components=PCA_DIMENSIONS, random_state=seed).fit_transform(embeddings)
    # Perplexity must stay below the number of points; 30 is the usual value for thousands.
    perplexity = min(30.0, (len(embeddings) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
    # One OpenMP thread: once ONNX Runtime has run in the process (it has, in `emocap evaluate`), t-SNE's
    # OpenMP threads slowed it 40-fold on 2 cores (90 points: 35 s instead of 0.8 s); with one thread,
    # 2,000 embeddings took 15 s against 21 s with two threads and no ONNX Runtime.
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(embeddings).astype(np.float32)
