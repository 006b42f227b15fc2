"""What an emotion model is for and not for: the part of docs/MODEL_CARD.md that travels with the
package, so that `emocap evaluate` prints it beside the figures it measures (the figures themselves
are measured by the run, never stored here)."""

from __future__ import annotations

MODEL_CARD_URL = "docs/MODEL_CARD.md"
"""The whole card, in emocap's source: how each built-in model was trained, its figures with the commands
that measured them, and the faces it is known to misread."""

INTENDED_USE = (
    "captions of how faces look in video or on a call, for people who find faces hard to read; "
    "transcripts of recorded video; research and teaching"
)

NOT_FOR = (
    "judging, grading or monitoring people (at work or school, which the EU AI Act forbids, and in hiring, "
    "policing, border control, insurance or credit); any decision about a person; lie detection or diagnosis"
)


def model_card_lines() -> list[str]:
    """The card's summary as `emocap evaluate` prints it after its figures."""
    return [
        "Model card",
        "  A caption describes how a face looks, not what a person feels.",
        f"  For: {INTENDED_USE}.",
        f"  Not for: {NOT_FOR}.",
        "  The figures above are FER2013's faces (mostly frontal, adult, posed); how the model does across ages,",
        "  skin tones and genders is not measured. Training, every figure with its command, and the faces it",
        f"  misreads: {MODEL_CARD_URL} in emocap's source.",
    ]
