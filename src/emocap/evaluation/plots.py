"""Evaluation figures as PNG files: confusion matrix, t-SNE map, reliability diagram.

Figures are built on `matplotlib.figure.Figure` directly (Agg canvas, no
pyplot state), so plotting works without a display and leaks no windows,
and each file appears only when it is completely written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emocap.atomic import atomic_path
from emocap.evaluation.metrics import ReliabilityBins
from emocap.labels import class_colours

DPI = 150


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    return path


def save_confusion_matrix(
    path: str | Path, confusion: np.ndarray, class_names: tuple[str, ...], *, title: str
) -> Path:
    """Cells coloured by the share of each true class, annotated with that share and the count."""
    confusion = np.asarray(confusion)
    k = len(class_names)
    if confusion.shape != (k, k):
        raise ValueError(f"confusion matrix of shape {confusion.shape} does not fit {k} class names")
    totals = confusion.sum(1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    figure = _new_figure(1.0 + 0.9 * k, 0.6 + 0.8 * k)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for row, column in np.ndindex(k, k):
        count = confusion[row, column]
        axes.text(
            column, row, f"{shares[row, column]:.0%}\n{count}" if count else "0",
            ha="center", va="center", fontsize=7,
            color="white" if shares[row, column] > 0.5 else "black",
        )
    axes.set_xticks(range(k), class_names, rotation=45, ha="right")
    axes.set_yticks(range(k), [f"{name} ({total})" for name, total in zip(class_names, totals[:, 0])])
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class (faces)")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="share of the true class", shrink=0.8)
    return _save(figure, path)


def save_embedding_map(
    path: str | Path, points: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], *, title: str
) -> Path:
    """2-D points (N, 2), e.g. a t-SNE map, one colour per true class with a legend."""
    points = np.asarray(points)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"need points (N, 2) and labels (N,), got {points.shape} and {labels.shape}")
    colours = class_colours(tuple(class_names))
    figure = _new_figure(7.0, 6.0)
    axes = figure.add_subplot()
    marker_size = float(np.clip(4000 / max(len(points), 1), 1.5, 20))
    for index, name in enumerate(class_names):
        chosen = labels == index
        axes.scatter(
            points[chosen, 0], points[chosen, 1], s=marker_size, c=colours[index],
            label=f"{name} ({int(chosen.sum())})", alpha=0.7, linewidths=0,
        )
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title)
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=max(1.0, 6 / np.sqrt(marker_size)))
    return _save(figure, path)


def save_reliability_diagram(path: str | Path, bins: ReliabilityBins, *, title: str) -> Path:
    """Accuracy against confidence per bin, the diagonal of perfect calibration, and face counts."""
    figure = _new_figure(5.5, 6.0)
    reliability, counts = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    centres = (bins.edges[:-1] + bins.edges[1:]) / 2
    width = np.diff(bins.edges)
    filled = bins.count > 0
    reliability.bar(
        centres[filled], bins.accuracy[filled], width=width[filled], color="#0072B2",
        edgecolor="white", label="accuracy in bin",
    )
    reliability.bar(
        centres[filled], bins.confidence[filled] - bins.accuracy[filled], bottom=bins.accuracy[filled],
        width=width[filled], color="#D55E00", alpha=0.35, edgecolor="#D55E00", label="gap to confidence",
    )
    reliability.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="perfect calibration")
    reliability.set_xlim(0, 1)
    reliability.set_ylim(0, 1)
    reliability.set_ylabel("accuracy")
    reliability.set_title(f"{title}\nECE {bins.expected_calibration_error:.1%} ({len(bins.count)} bins)")
    reliability.legend(loc="upper left")
    counts.bar(centres, bins.count, width=width, color="#999999", edgecolor="white")
    counts.set_xlabel("confidence of the top class")
    counts.set_ylabel("faces")
    return _save(figure, path)


def save_corruption_plot(path: str | Path, reports: dict[str, dict], *, title: str, families_key: str = "corruptions",
                         mean_key: str = "mca", mean_name: str = "mCA") -> Path:
    """FER2013-C: accuracy per corruption family against severity (0 is clean), one panel per model
    in `reports` (name -> `corruption_accuracy` report), the mCA in each panel's title; or any report with
    the same shape (the wild yardstick's: its "conditions" and "wild_accuracy")."""
    families = list(next(iter(reports.values()))[families_key])
    figure = _new_figure(5.0 * len(reports) + 2.5, 4.5)
    axes_list = figure.subplots(1, len(reports), sharey=True, squeeze=False)[0]
    colours = [f"C{i % 10}" for i in range(len(families))]
    styles = ["-", "--", ":"]
    for axes, (name, report) in zip(axes_list, reports.items()):
        for index, family in enumerate(families):
            severities = report[families_key][family]
            values = [report["clean"], *(severities[s] for s in sorted(severities))]
            axes.plot(range(len(values)), [100 * v for v in values], color=colours[index],
                      linestyle=styles[index % len(styles)], marker="o", markersize=3, label=family)
        axes.axhline(100 * report[mean_key], color="black", linewidth=2, label=mean_name)
        axes.set_title(f"{name}: clean {report['clean']:.1%}, {mean_name} {report[mean_key]:.1%}", fontsize=9)
        axes.set_xticks(range(4), ["clean", "1", "2", "3"])
        axes.set_xlabel("severity")
        axes.grid(alpha=0.3)
    axes_list[0].set_ylabel(f"accuracy (%), {next(iter(reports.values()))['faces']} faces")
    axes_list[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    figure.suptitle(title)
    return _save(figure, path)


def save_risk_coverage(path: str | Path, curves: dict[str, dict], *, unsure_below: float, title: str) -> Path:
    """Accuracy of the captions still shown against the share of faces shown, one line per split in
    `curves` (split -> `confidence_report` entry), each threshold a point, the model's own one ringed."""
    figure = _new_figure(6.0, 4.5)
    axes = figure.add_subplot()
    for index, ((split, curve), colour) in enumerate(zip(curves.items(), ("#0072B2", "#D55E00", "#009E73"))):
        rows = [row for row in curve["risk_coverage"] if row["accuracy"] is not None]
        axes.plot([r["coverage"] for r in rows], [r["accuracy"] for r in rows], marker=".", color=colour, label=split)
        chosen = [r for r in rows if np.isclose(r["threshold"], unsure_below)]
        if chosen:
            axes.scatter([chosen[0]["coverage"]], [chosen[0]["accuracy"]], s=120, facecolors="none",
                         edgecolors=colour, linewidths=1.5)
            axes.annotate(f"unsure below {unsure_below:.2f}", (chosen[0]["coverage"], chosen[0]["accuracy"]),
                          textcoords="offset points", xytext=(10, 8 - 16 * index), fontsize=8, color=colour)
    axes.set_xlim(0, 1.02)
    axes.set_xlabel("faces shown with an emotion (the rest read \"unsure\")")
    axes.set_ylabel("accuracy of the emotions shown")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    return _save(figure, path)
