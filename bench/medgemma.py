"""MedGemma 1.5 4B cost: vision tower, prefill, per-token decode, a radiograph and an 85-slice CT.

    python bench/medgemma.py --device cuda            # full model, bfloat16, everything measured
    python bench/medgemma.py                          # CPU: short run, see below
    python bench/medgemma.py --queue --tokens 8       # through the Huey queue (CPU: 1 radiograph)

The model is a RANDOM-WEIGHT ``Gemma3ForConditionalGeneration`` with MedGemma
1.5 4B's configuration (34-layer Gemma 3 text model, width 2560, 262k
vocabulary; 27-layer SigLIP vision tower on 896x896 images, 256 tokens per
image): its compute is the real model's, its answers are noise. Analyses go
through the product path: pydicom datasets -> ``inference.preprocessing`` ->
``inference.medgemma.analyze`` (chat template, processor, generate with
streaming), with ``min_new_tokens`` so every run decodes the same length.

On CPU the full model does not fit beside the other processes of a shared
machine in float32, and bfloat16 matrix work is slow there, so the CPU run
measures the real vision tower (float32) and the text model at 2 and 4 layers
(float32), and extrapolates the text model linearly to 34 layers (cost per
layer is uniform); the 85-slice CT is then composed from measured parts. Those
lines say "extrapolated". On a GPU everything is measured on the full model.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic_radiograph(rows=2500, columns=2048):
    from pydicom import dcmread
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    ds.SOPClassUID = ComputedRadiographyImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CR"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    rng = np.random.default_rng(0)
    ds.PixelData = rng.integers(0, 4096, (rows, columns), dtype=np.uint16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return dcmread(io.BytesIO(buffer.getvalue()))


def synthetic_ct(slices=120, size=512):
    from pydicom import dcmread
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(1)
    out = []
    for i in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality = "CT"
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-250.0, -250.0, -1.25 * i]
        ds.InstanceNumber = i + 1
        ds.PixelData = rng.integers(0, 2048, (size, size), dtype=np.int16).tobytes()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(dcmread(io.BytesIO(buffer.getvalue())))
    return out


def build(device: str, dtype, layers: int | None, vision: bool = True):
    import torch

    from inference.loading import ModelInfo
    from inference.medgemma import MedGemmaEngine
    from inference.tiny import (
        MEDGEMMA_4B_TEXT,
        MEDGEMMA_4B_VISION,
        medgemma_model,
        medgemma_processor,
    )

    text = dict(MEDGEMMA_4B_TEXT)
    if layers:
        text["num_hidden_layers"] = layers
    processor = medgemma_processor(image_size=896, tokens_per_image=256)
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = medgemma_model(processor, text, MEDGEMMA_4B_VISION, tokens_per_image=256)
    finally:
        torch.set_default_dtype(previous)
    model = model.to(device=device, dtype=dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    info = ModelInfo("medgemma", "random MedGemma 1.5 4B config", device, str(dtype), params, True)
    return MedGemmaEngine(processor, model, info)


def sync(device):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_vision(engine, device, batch: int, repeats: int = 2, warmup: bool = True) -> float:
    """Seconds per image for the vision tower + projector."""
    import torch

    from inference.medgemma import attention_backends

    dtype = next(engine.model.parameters()).dtype
    pixels = torch.randn(batch, 3, 896, 896, device=device, dtype=dtype)
    with torch.inference_mode(), attention_backends(torch.device(device)):
        if warmup:
            engine.model.get_image_features(pixel_values=pixels[:1])
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            engine.model.get_image_features(pixel_values=pixels)
        sync(device)
    return (time.perf_counter() - start) / repeats / batch


def time_text(engine, device, prompt_tokens: int, new_tokens: int) -> tuple[float, float]:
    """(prefill seconds for ``prompt_tokens``, seconds per decoded token), text only.

    Decode is the difference between generating ``1 + new_tokens`` and 1 token
    from the same prompt, so prefill noise does not leak into it.
    """
    import torch

    from inference.medgemma import attention_backends

    vocab = engine.processor.tokenizer
    ids = torch.randint(300, len(vocab), (1, prompt_tokens), device=device)

    def generate(count: int) -> float:
        sync(device)
        start = time.perf_counter()
        engine.model.generate(
            input_ids=ids, max_new_tokens=count, min_new_tokens=count, do_sample=False
        )
        sync(device)
        return time.perf_counter() - start

    with torch.inference_mode(), attention_backends(torch.device(device)):
        generate(2)  # warm-up at this shape
        one = generate(1)
        more = generate(1 + new_tokens)
    return one, max(0.0, more - one) / new_tokens


def analysis(engine, task, images, tokens, modality=""):
    from inference.medgemma import analyze

    start = time.perf_counter()
    result = analyze(
        engine, task, images, modality=modality, max_new_tokens=tokens, min_new_tokens=tokens
    )
    return result.generation, time.perf_counter() - start


def peak_memory(device) -> str:
    import torch

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    text = f"peak RSS {rss:.1f} GB"
    if device.startswith("cuda"):
        text += f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tokens", type=int, default=0, help="decoded tokens per analysis")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--queue",
        action="store_true",
        help="enqueue -> annotation stored through the product's Huey queue (bench/medgemma_queue.py)"
        "; on CPU one radiograph only, in float32 (~17 GB of RAM)",
    )
    args = parser.parse_args()

    import torch

    from inference.loading import resolve_device
    from inference.preprocessing import prepare_ct, prepare_radiograph
    from inference.prompts import FINDINGS, LOCALISATION

    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype_name = resolve_device(args.device)
    dtype = getattr(torch, dtype_name)
    print(
        f"bench/medgemma.py on {device} {dtype_name}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; RANDOM WEIGHTS, MedGemma 1.5 4B configuration"
    )
    if device.startswith("cuda"):
        print(f"  GPU: {torch.cuda.get_device_name()}")
    if args.queue:
        from bench.medgemma_queue import run

        gpu = device.startswith("cuda")
        # CPU: float32 (bfloat16 matrix work is ~4x slower there); the 85-slice CT is
        # hours on CPU, so only the radiograph is run.
        run(device, dtype if gpu else torch.float32, args.tokens or (64 if gpu else 8), gpu)
        return

    start = time.perf_counter()
    ds = synthetic_radiograph()
    radiograph = prepare_radiograph(ds)
    prep_radiograph = time.perf_counter() - start
    cts = synthetic_ct()
    start = time.perf_counter()
    ct = prepare_ct(cts)
    prep_ct = time.perf_counter() - start
    print(
        f"  preprocessing: 2500x2048 CR {prep_radiograph:.2f} s; CT {len(cts)} slices of "
        f"512x512 -> {len(ct.images)} slices {prep_ct:.2f} s"
    )

    if device.startswith("cuda"):
        tokens = args.tokens or 64
        start = time.perf_counter()
        engine = build(device, dtype, None)
        print(
            f"  built {engine.info.parameters / 1e9:.2f}B parameters in "
            f"{time.perf_counter() - start:.0f} s"
        )
        print(
            f"  vision tower: {time_vision(engine, device, 1, 3):.3f} s/image (batch 1), "
            f"{time_vision(engine, device, 16, 2):.3f} s/image (batch 16)"
        )
        for n in (512, 4096):
            prefill, per_token = time_text(engine, device, n, tokens)
            print(
                f"  text only: prefill {n} tokens {prefill:.3f} s ({n / prefill:,.0f} tok/s); "
                f"decode {per_token * 1000:.1f} ms/token"
            )
        for name, task, images, modality in (
            ("radiograph", LOCALISATION, [radiograph], ""),
            ("85-slice CT", FINDINGS, ct.images, "CT"),
        ):
            analysis(engine, task, images, 2, modality)  # warm-up of this prompt shape
            generation, wall = analysis(engine, task, images, tokens, modality)
            print(
                f"  {name} analysis: {generation.prompt_tokens} prompt tokens, "
                f"{generation.images} image(s); processor {generation.prepare_s:.2f} s; "
                f"prefill incl. vision {generation.prefill_s:.2f} s; "
                f"{generation.new_tokens} tokens at {generation.seconds_per_token * 1000:.1f} ms; "
                f"total {wall:.2f} s"
            )
        print(f"  {peak_memory(device)}")
        return

    # CPU: short, partly extrapolated run.
    tokens = args.tokens or 8
    start = time.perf_counter()
    engine = build(device, torch.float32, 2)
    print(f"  built vision tower + 2-layer text model in {time.perf_counter() - start:.0f} s")
    vision = time_vision(engine, device, 1, 1, warmup=False)
    print(f"  vision tower (measured, full 27 layers, float32): {vision:.1f} s/image")
    prompt = 256 + 90  # one image plus the localisation prompt
    results = {}
    for layers in (2, 4):
        if layers != 2:
            del engine
            engine = build(device, torch.float32, layers)
        results[layers] = time_text(engine, device, prompt, tokens)
        print(
            f"  text model at {layers} layers (measured): prefill {prompt} tokens "
            f"{results[layers][0]:.2f} s, decode {results[layers][1]:.2f} s/token"
        )
    generation, wall = analysis(engine, LOCALISATION, [radiograph], tokens)
    print(
        f"  radiograph analysis at 4 layers (measured, product path): prefill incl. vision "
        f"{generation.prefill_s:.1f} s, {generation.new_tokens} tokens, total {wall:.1f} s"
    )

    def full(values_2, values_4):
        per_layer = (values_4 - values_2) / 2
        return values_2 + per_layer * 32

    prefill_34 = full(results[2][0], results[4][0])
    decode_34 = full(results[2][1], results[4][1])
    print(
        f"  text model at 34 layers (extrapolated): prefill {prompt} tokens {prefill_34:.1f} s, "
        f"decode {decode_34:.2f} s/token"
    )
    print(
        f"  radiograph analysis, 100 tokens (extrapolated): "
        f"{vision + prefill_34 + 100 * decode_34:.0f} s"
    )
    ct_tokens = 85 * 260 + 80
    per_token_prefill = prefill_34 / prompt
    print(
        f"  85-slice CT analysis, 300 tokens (extrapolated, prefill taken as linear in "
        f"{ct_tokens} tokens, attention ignored, so a lower bound): "
        f"{(85 * vision + ct_tokens * per_token_prefill + 300 * decode_34) / 60:.0f} min"
    )
    params_full = 4.3e9
    print(
        f"  full model weights alone: {params_full * 2 / 2**30:.1f} GiB in bfloat16, "
        f"{params_full * 4 / 2**30:.1f} GiB in float32; this run's {peak_memory(device)}"
    )


if __name__ == "__main__":
    main()
