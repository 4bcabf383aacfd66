"""From a MedGemma ``AnalysisResult`` to the job's outcome and its findings (annotation data).

Localised findings become ``ai_box`` annotations on the image the box was
drawn on, in that image's pixel coordinates (``inference.preprocessing.box_to_source``
undid the padding and resizing). Text findings become ``ai_finding``
annotations on a representative image of the series (its middle slice), with
every image the model saw listed in the provenance.
"""

from __future__ import annotations

import json
import re

from inference import parsing, prompts
from inference.preprocessing import PreparedImage
from reading.ai.models import Task

MAX_FINDINGS = 24
MAX_RAW_IN_PROVENANCE = 1500
MAX_IMAGES_IN_PROVENANCE = 40
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def split_text_findings(text: str) -> list[str]:
    """One finding per list item, or per sentence of a prose paragraph."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    items: list[str] = []
    for line in lines:
        line = _ITEM.sub("", line).strip()
        if not line:
            continue
        items.extend(part.strip() for part in _SENTENCE.split(line) if part.strip())
    return items[:MAX_FINDINGS]


def model_revision(engine) -> str:
    """The hub commit of the weights when loaded from the hub, else ``local``."""
    revision = getattr(engine.model.config, "_commit_hash", None)
    return str(revision) if revision else "local"


def _timings(result, prepare_s: float) -> dict:
    g = result.generation
    if g is None:
        return {"prepare_images_s": round(prepare_s, 3)}
    return {
        "prepare_images_s": round(prepare_s, 3),
        "prompt_s": round(g.prepare_s, 3),
        "prefill_s": round(g.prefill_s, 3),
        "decode_s": round(g.decode_s, 3),
        "seconds_per_token": round(g.seconds_per_token, 4),
        "new_tokens": g.new_tokens,
        "prompt_tokens": g.prompt_tokens,
    }


def fit_provenance(provenance: dict, limit: int = 7800) -> dict:
    """Keep an annotation's provenance under the annotations app's size limit.

    The job keeps everything; the annotation keeps as many image references and as
    much of the raw answer as fit, and says how many there were.
    """
    size = lambda p: len(json.dumps(p, separators=(",", ":")))  # noqa: E731
    provenance = dict(provenance)
    while size(provenance) > limit and len(provenance.get("images", [])) > 1:
        provenance["images"] = provenance["images"][: len(provenance["images"]) // 2]
    while size(provenance) > limit and len(provenance.get("raw_output", "")) > 100:
        provenance["raw_output"] = provenance["raw_output"][: len(provenance["raw_output"]) // 2]
        provenance["raw_truncated"] = True
    return provenance


def _representative(images: list[PreparedImage]) -> PreparedImage | None:
    return images[len(images) // 2] if images else None


def build(job, engine, result, images, prior, refs, windows, prepare_s):
    """Return ``(outcome, findings)``: job fields to save, and annotation data + provenance."""
    info = engine.info
    revision = model_revision(engine)
    timings = _timings(result, prepare_s)
    prompt_text = prompts.TEMPLATES[result.task]
    outcome = {
        "model_id": info.source[:512],
        "model_revision": revision[:128],
        "device": f"{info.device} {info.dtype}"[:32],
        "random_weights": bool(info.random_weights),
        "images_used": len(refs),
        "text": result.raw,
        "tokens": result.generation.new_tokens if result.generation else 0,
        "result": {
            "status": result.status,
            "data": result.data,
            "errors": result.errors,
            "boxes": [box.__dict__ for box in result.boxes],
        },
        "provenance": {
            "model": info.source,
            "version": revision,
            "parameters": {**(job.parameters or {}), "do_sample": False},
            "prompt_template": prompt_text,
            "system": prompts.SYSTEM,
            "images": refs,
            "windows": windows,
            "timings": timings,
            "device": info.device,
            "dtype": info.dtype,
            "random_weights": bool(info.random_weights),
        },
    }
    base = {
        "job_id": str(job.pk),
        "model": info.source[-200:],
        "version": revision,
        "task": job.task,
        "device": f"{info.device} {info.dtype}",
        "random_weights": bool(info.random_weights),
        "prompt_template": prompt_text[:600],
        "raw_output": result.raw[:MAX_RAW_IN_PROVENANCE],
        "raw_truncated": len(result.raw) > MAX_RAW_IN_PROVENANCE,
        "parse_status": result.status,
        "timings": timings,
        "windows": windows,
        "images_total": len(refs),
        "images": refs[:MAX_IMAGES_IN_PROVENANCE],
    }
    found: list[dict] = []
    if job.task == Task.LOCALISE:
        for n, box in enumerate(result.boxes):
            if not (box.x0 < box.x1 and box.y0 < box.y1):
                continue  # wholly off the image (clipped to nothing): no place to show it
            found.append(
                {
                    "data": {
                        "sop_instance_uid": box.sop_instance_uid,
                        "frame_number": box.frame,
                        "tool": "ai_box",
                        "geometry": {"points": [[box.x0, box.y0], [box.x1, box.y1]]},
                        "label": (box.label or "AI finding")[:256],
                        "text": "",
                    },
                    "provenance": fit_provenance(
                        {
                            **base,
                            "index": n,
                            "parsed": result.data[n] if isinstance(result.data, list) else None,
                            "images": [
                                r for r in refs if r["sop_instance_uid"] == box.sop_instance_uid
                            ][:1],
                        }
                    ),
                }
            )
        return outcome, found
    anchor = _representative(images)
    if anchor is None or job.task == Task.IMPRESSION:
        return outcome, found  # an impression is a suggestion kept on the job, never a mark
    items: list[tuple[str, str]] = []
    if job.task == Task.COMPARE_PRIOR and result.status != parsing.UNPARSED:
        for key in ("new", "changed", "resolved", "unchanged"):
            items += [(key, text) for text in result.data.get(key, [])]
        if result.data.get("summary"):
            items.append(("summary", result.data["summary"]))
    elif job.task == Task.FINDINGS and result.status != parsing.UNPARSED:
        items = [("finding", text) for text in split_text_findings(result.data)]
    elif result.raw.strip():
        items = [("unparsed answer", result.raw.strip())]
    for n, (label, text) in enumerate(items[:MAX_FINDINGS]):
        found.append(
            {
                "data": {
                    "sop_instance_uid": anchor.source.sop_instance_uid,
                    "frame_number": anchor.source.frame,
                    "tool": "ai_finding",
                    "geometry": {"points": []},
                    "label": label[:256],
                    "text": text[:4000],
                },
                "provenance": fit_provenance({**base, "index": n, "parsed": text[:1000]}),
            }
        )
    return outcome, found
