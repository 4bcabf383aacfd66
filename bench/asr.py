"""MedASR streaming cost: real-time factor and partial latency for 1, 4 and 8 live streams.

    python bench/asr.py                      # CPU, fp32 and int8, 1/4/8 streams
    python bench/asr.py --device cuda        # GPU, bfloat16
    python bench/asr.py --seconds 20 --streams 1 4 --window 6 --step 1
    python bench/asr.py --modes fp32 --threads 1 --partials whole trailing   # before / after

The model is a full-size, RANDOM-WEIGHT ``LasrForCTC`` with the published MedASR
encoder configuration (17 Conformer layers, width 512, 105M parameters): its
compute is the real model's, its words are noise. Each stream is a synthetic
dictation (speech-like sound, ~6 s utterances with pauses) fed in 100 ms chunks
through :class:`inference.medasr.StreamingTranscriber`, either one stream after
the other or batched with :func:`inference.asr_batch.feed_many`.

Latency is measured on a simulated real-time clock: chunk i arrives at
(i+1) x 100 ms for every stream, the engine processes one round of all
streams at a time, and an event's latency is the moment its round finishes
minus the arrival of the chunk that triggered it; a system slower than real
time falls behind and its latency grows. RTF = compute seconds / audio seconds
(summed over streams). Baseline: sequential fp32 decoding of the same streams.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 16000
CHUNK_S = 0.1


def synthetic_dictation(seconds: float, seed: int) -> np.ndarray:
    """Utterances of 4-8 s separated by 0.7-1.2 s pauses; modulated tone plus noise."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0.0
    while total < seconds:
        talk, pause = rng.uniform(4, 8), rng.uniform(0.7, 1.2)
        t = np.arange(int(talk * RATE)) / RATE
        f0 = rng.uniform(110, 220)
        voiced = np.sin(2 * np.pi * f0 * t) * (1 + 0.6 * np.sin(2 * np.pi * 4 * t))
        parts.append(0.2 * voiced + 0.05 * rng.standard_normal(len(t)))
        parts.append(0.0005 * rng.standard_normal(int(pause * RATE)))
        total += talk + pause
    return np.concatenate(parts)[: int(seconds * RATE)].astype(np.float32)


def build_model(directory: Path) -> Path:
    import torch

    from inference.tiny import medasr_model, medasr_processor

    torch.manual_seed(0)
    processor = medasr_processor(vocab_size=512)
    model = medasr_model(512)  # the published encoder configuration
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def run_streams(engine, settings, streams: list[np.ndarray], batched: bool) -> dict:
    from inference.asr_batch import feed_many
    from inference.medasr import StreamingTranscriber

    counting = _Counting(engine)
    transcribers = [StreamingTranscriber(counting, settings) for _ in streams]
    chunk = int(CHUNK_S * RATE)
    rounds = max(len(a) for a in streams) // chunk
    clock = 0.0  # simulated wall clock, seconds since the first chunk
    compute = 0.0
    partial_latency, final_latency = [], []
    for r in range(rounds):
        arrival = (r + 1) * CHUNK_S
        clock = max(clock, arrival)
        work = [
            (t, a[r * chunk : (r + 1) * chunk]) for t, a in zip(transcribers, streams, strict=True)
        ]
        if batched:
            start = time.perf_counter()
            results = feed_many(counting, work)
            took = time.perf_counter() - start
            done_at = [clock + took] * len(work)
            clock += took
        else:
            results, done_at = [], []
            took = 0.0
            for transcriber, piece in work:
                start = time.perf_counter()
                results.append(transcriber.feed(piece))
                elapsed = time.perf_counter() - start
                took += elapsed
                clock += elapsed
                done_at.append(clock)
        compute += took
        for events, finished in zip(results, done_at, strict=True):
            for event in events:
                latency = finished - arrival
                (partial_latency if event.type == "partial" else final_latency).append(latency)
    audio_s = sum(len(a) for a in streams) / RATE
    return {
        "rtf": compute / audio_s,
        "partials": len(partial_latency),
        "p50": statistics.median(partial_latency) if partial_latency else float("nan"),
        "p95": float(np.percentile(partial_latency, 95)) if partial_latency else float("nan"),
        "final_p95": float(np.percentile(final_latency, 95)) if final_latency else float("nan"),
        "behind": clock - rounds * CHUNK_S,
        "decoded": counting.samples / RATE / audio_s,
    }


class _Counting:
    """The engine, counting the audio it decodes (load-independent cost)."""

    def __init__(self, engine):
        self.engine, self.samples = engine, 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def logprobs_batch(self, audios):
        self.samples += sum(len(a) for a in audios)
        return self.engine.logprobs_batch(audios)


def raw_throughput(engine, seconds=(1, 4, 8)) -> list[str]:
    lines = []
    for s in seconds:
        audio = synthetic_dictation(s, 99)
        engine.decode_batch([audio])
        start = time.perf_counter()
        repeats = 3
        for _ in range(repeats):
            engine.decode_batch([audio])
        took = (time.perf_counter() - start) / repeats
        lines.append(
            f"  one forward pass on {s:>2} s of audio: {took * 1000:7.1f} ms  RTF {took / s:.3f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=12.0, help="audio per stream")
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--step", type=float, default=1.0)
    parser.add_argument("--modes", nargs="+", default=None, help="fp32 int8 (CPU) / bf16 (GPU)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--partials",
        nargs="+",
        default=["trailing"],
        help="trailing (decode the audio not yet fixed + context) and/or whole (re-decode "
        "the open segment: the scheme before)",
    )
    args = parser.parse_args()

    import torch

    from inference.asr_protocol import StreamSettings
    from inference.loading import load_asr, resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device)
    modes = args.modes or (["fp32", "int8"] if device == "cpu" else [dtype])
    schemes = {
        name: StreamSettings(
            window_s=args.window,
            step_s=args.step,
            **({"partial_context_s": None} if name == "whole" else {}),
        )
        for name in args.partials
    }
    settings = next(iter(schemes.values()))
    print(
        f"bench/asr.py on {device} ({torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs), torch {torch.__version__}"
    )
    if device == "cuda":
        print(f"  GPU: {torch.cuda.get_device_name()}")
    print(
        f"  settings: window {args.window} s, step {args.step} s, pause {settings.pause_s} s, "
        f"chunks {int(CHUNK_S * 1000)} ms, {args.seconds:g} s of audio per stream"
    )
    with tempfile.TemporaryDirectory() as tmp:
        built = time.perf_counter()
        path = build_model(Path(tmp) / "medasr-full-random")
        print(f"  built the random-weight model in {time.perf_counter() - built:.1f} s")
        for mode in modes:
            quantize = "int8" if mode == "int8" else ""
            engine = load_asr(str(path), device=args.device, quantize=quantize)
            info = engine.info
            print(
                f"\n[{mode}] {info.parameters / 1e6:.1f}M parameters, {info.dtype} "
                f"{info.quantization or ''} RANDOM WEIGHTS"
            )
            for line in raw_throughput(engine):
                print(line)
            baseline = None
            for (scheme, settings), n in (
                (item, n) for item in schemes.items() for n in args.streams
            ):
                streams = [synthetic_dictation(args.seconds, seed) for seed in range(n)]
                for batched in [False, True] if n > 1 else [False]:
                    result = run_streams(engine, settings, streams, batched)
                    label = f"{scheme} partials, " + ("batched" if batched else "one by one")
                    if n == 1:
                        baseline = result["rtf"]
                    ratio = f"  ({result['rtf'] / baseline:.2f}x 1-stream RTF)" if baseline else ""
                    print(
                        f"  {n} stream(s) {label:>28}: RTF {result['rtf']:.3f}{ratio}; "
                        f"partial latency p50 {result['p50']:.2f} s p95 {result['p95']:.2f} s; "
                        f"final p95 {result['final_p95']:.2f} s; behind real time at end "
                        f"{max(0.0, result['behind']):.1f} s; audio decoded per audio s "
                        f"{result['decoded']:.2f}"
                    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB")
    if device == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
