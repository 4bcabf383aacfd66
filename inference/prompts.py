"""Prompt templates of the analysis tasks, as Gemma 3 chat messages.

Images come before the text that refers to them (Google's localisation
recipe). Each image is preceded by a short label so answers can name it.
"""

from __future__ import annotations

from collections.abc import Sequence

from inference.preprocessing import PreparedImage

FINDINGS = "findings"
LOCALISATION = "localisation"
COMPARISON = "comparison"
IMPRESSION = "impression"
TASKS = (FINDINGS, LOCALISATION, COMPARISON, IMPRESSION)

SYSTEM = "You are an expert radiologist. Be precise and concise; do not invent findings."

TEMPLATES = {
    FINDINGS: (
        "{context}Describe the findings in the {what} above as the FINDINGS section of a "
        "radiology report, in plain prose. Mention pertinent negatives."
    ),
    LOCALISATION: (
        "{context}Locate each abnormal finding in the {what} above. Answer only with a JSON "
        'list of objects {{"box_2d": [y0, x0, y1, x1], "label": "<finding>", "image": <image '
        "number>}}, coordinates normalised to 0-1000. Answer [] if there is no abnormality."
    ),
    COMPARISON: (
        "{context}The first {prior_count} image(s) are the PRIOR study{prior_when}; the next "
        "{current_count} image(s) are the CURRENT study{current_when}. Compare them. Answer only "
        'with a JSON object {{"new": [...], "resolved": [...], "changed": [...], '
        '"unchanged": [...], "summary": "..."}}.'
    ),
    IMPRESSION: (
        "{context}Write the IMPRESSION of a radiology report for these findings: a short "
        "numbered list, most important first.\n\nFINDINGS:\n{findings}"
    ),
}


def _what(images: Sequence[PreparedImage], modality: str) -> str:
    kind = {"CT": "CT slices", "MR": "MR slices"}.get(modality.upper(), "images")
    return kind if len(images) > 1 else "image"


def _image_parts(images: Sequence[PreparedImage], first: int = 1, prefix: str = "") -> list[dict]:
    parts: list[dict] = []
    for n, image in enumerate(images, start=first):
        label = f"{prefix}image {n}" + (f" ({image.label})" if image.label else "")
        parts.append({"type": "text", "text": label})
        parts.append({"type": "image", "image": image.to_pil()})
    return parts


def build_messages(
    task: str,
    images: Sequence[PreparedImage] = (),
    *,
    modality: str = "",
    prior: Sequence[PreparedImage] = (),
    findings: str = "",
    context: str = "",
    prior_when: str = "",
    current_when: str = "",
) -> list[dict]:
    """Chat messages for one task (system turn, then one user turn with images and text)."""
    if task not in TEMPLATES:
        raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
    context = f"{context.strip()}\n\n" if context.strip() else ""
    content: list[dict] = []
    if task == COMPARISON:
        if not prior or not images:
            raise ValueError("comparison needs prior and current images")
        content += _image_parts(prior, prefix="prior ")
        content += _image_parts(images, first=len(prior) + 1, prefix="current ")
        text = TEMPLATES[task].format(
            context=context,
            prior_count=len(prior),
            current_count=len(images),
            prior_when=f" ({prior_when})" if prior_when else "",
            current_when=f" ({current_when})" if current_when else "",
        )
    elif task == IMPRESSION:
        if not findings.strip():
            raise ValueError("impression needs findings text")
        content += _image_parts(images)
        text = TEMPLATES[task].format(context=context, findings=findings.strip())
    else:
        if not images:
            raise ValueError(f"{task} needs images")
        content += _image_parts(images)
        text = TEMPLATES[task].format(context=context, what=_what(images, modality))
    content.append({"type": "text", "text": text})
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
        {"role": "user", "content": content},
    ]
