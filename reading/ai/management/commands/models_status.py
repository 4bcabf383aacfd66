"""Which models are installed, where, on which device, and whether they are random weights."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand


def model_status(model: str, source: str, device: str, load: bool = False) -> dict:
    """Status of one model without loading it (``load=True`` loads it to report parameters)."""
    from inference.errors import MODEL_SETTINGS, ModelNotInstalled
    from inference.loading import check_source, is_local_source, local_random_label

    name, setting, _ = MODEL_SETTINGS[model]
    status = {"model": name, "setting": setting, "source": source, "installed": False}
    try:
        checked = check_source(model, source)
    except ModelNotInstalled as exc:
        status["error"] = str(exc)
        return status
    if is_local_source(source):
        status.update(
            installed=True, where=str(checked), random_weights=local_random_label(checked)
        )
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
        status["where"] = f"hub id {source}"
        status["installed"] = isinstance(cached, str)
        status["random_weights"] = False
        if not status["installed"]:
            status["error"] = (
                f"{name}: {source} is not in the local Hugging Face cache; it is downloaded on "
                f"first use when the machine can reach the hub with a token (HF_TOKEN)"
            )
    if load and status["installed"]:
        from inference.loading import load_asr, load_medgemma

        try:
            engine = (load_asr if model == "medasr" else load_medgemma)(source, device)
        except ModelNotInstalled as exc:
            status.update(installed=False, error=str(exc))
            return status
        info = engine.info
        status.update(
            device=info.device,
            dtype=info.dtype,
            parameters=info.parameters,
            random_weights=info.random_weights,
        )
    return status


class Command(BaseCommand):
    # Reads files only: no need to import every URLconf and model check first.
    requires_system_checks = []
    help = "Report which models are installed, where, on which device (random weights labelled)."

    def add_arguments(self, parser):
        parser.add_argument("--load", action="store_true", help="load each model to check it")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, load=False, json: bool = False, **options):
        from inference.loading import resolve_device

        device_setting = settings.INFERENCE_DEVICE
        try:
            device, dtype = resolve_device(device_setting)
        except RuntimeError as exc:
            device, dtype = f"unavailable ({exc})", ""
        rows = [
            model_status("medasr", settings.MEDASR_MODEL, device_setting, load),
            model_status("medgemma", settings.MEDGEMMA_MODEL, device_setting, load),
        ]
        if json:
            self.stdout.write(_dumps({"device": device, "dtype": dtype, "models": rows}))
            return
        self.stdout.write(f"Inference device: {device} {dtype} (INFERENCE_DEVICE={device_setting})")
        for row in rows:
            if row["installed"]:
                label = "  [RANDOM WEIGHTS: output is noise]" if row.get("random_weights") else ""
                extra = ""
                if "parameters" in row:
                    extra = (
                        f", loaded on {row['device']} {row['dtype']}, {row['parameters']:,} params"
                    )
                self.stdout.write(f"{row['model']}: installed at {row['where']}{extra}{label}")
            else:
                self.stdout.write(f"{row['model']}: NOT INSTALLED. {row['error']}")


def _dumps(value) -> str:
    return json.dumps(value, indent=2)
