"""3D report generation: M3D-Cap, AMOS-MM and CT-RATE (report metrics of the report layer).

- ``m3d_cap``: ``M3D_Cap.json`` (``{"test": [{"image": npy, "text": report or .txt path}]}``
  or a list of such rows), or Hulu-Med's LLaVA layout.
- ``amos_mm``: Hulu-Med's ``amos_val.json`` (LLaVA layout, slice folders), or rows with a
  volume and ``report`` / ``findings`` + ``impression``.
- ``ct_rate_report``: CT-RATE ``validation_reports.csv`` (``VolumeName``, ``Findings_EN``,
  ``Impressions_EN``); the volume is looked up as ``valid/valid_<a>/valid_<a>_<b>/<name>`` (the
  release's layout) or directly under the data folder; the reference is
  ``"Findings: {Findings_EN} Impression: {Impressions_EN}."``.

All use MedUniEval's fixed report prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.sources import RawRows, load_json_file, read_local
from ..data.volume import VolumeSpec
from ..errors import ConfigError, SampleError
from ..types import Sample, sha256_hex
from . import vqa3d
from .base import Benchmark, RowContext, pick


def _m3d_cap_reader(bench: Benchmark, path: Path) -> RawRows:
    file = bench.resolve_local(path)[0]
    if file.suffix.lower() != ".json":
        return read_local(file)
    data = load_json_file(file, bench.name)
    if isinstance(data, dict):
        split = next((k for k in ("test", "validation") if k in data), None)
        if split is None:
            raise ConfigError(f"{file}: expected a 'test' or 'validation' list of rows")
        data = data[split]
    if not isinstance(data, list):
        raise ConfigError(f"{file}: expected a list of rows")
    return RawRows(data, str(file), sha256_hex(file.read_bytes()), file.parent)


def m3d_cap_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "conversations" not in row:
        text = str(pick(row, "text", "caption", "report"))
        if text.endswith(".txt") and ctx.raw.root is not None:
            from ..data.media import safe_join

            try:
                text = safe_join(ctx.raw.root, text).read_text(encoding="utf-8")
            except OSError as exc:
                raise SampleError("missing_media", f"report file {text}: {exc.strerror}") from None
        row = {**row, "report": text.strip()}
    return vqa3d.report_sample(row, ctx, ("report",))


def amos_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    if "conversations" not in row and "report" not in row:
        findings, impression = pick(row, "findings"), row.get("impression") or ""
        if isinstance(findings, dict):  # per region (chest / abdomen / pelvis)
            findings = " ".join(f"{k}: {v}" for k, v in findings.items() if v)
        row = {**row, "report": f"Findings: {findings} Impression: {impression}."}
    return vqa3d.report_sample(row, ctx, ("report",))


def ct_rate_path(name: str, root: Path | None) -> str:
    """The release path of a CT-RATE volume name (``valid_1_a_1.nii.gz``), or the bare name
    when the file lies directly under the data folder."""
    stem = name.split(".")[0]
    parts = stem.split("_")
    nested = (
        f"{parts[0]}/{'_'.join(parts[:2])}/{'_'.join(parts[:3])}/{name}"
        if len(parts) >= 4
        else name
    )
    if root is not None and not (root / nested).exists() and (root / name).exists():
        return name
    return nested


def ct_rate_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    name = str(pick(row, "VolumeName", "volume"))
    findings, impression = pick(row, "Findings_EN", "findings"), row.get("Impressions_EN") or ""
    row = {
        **row,
        "id": name.split(".")[0],
        "volume": ct_rate_path(name, ctx.raw.root),
        "VolumeName": None,
        "report": f"Findings: {findings} Impression: {impression}.",
    }
    return vqa3d.report_sample(row, ctx, ("report",))


M3D_CAP = Benchmark(
    name="m3d_cap",
    title="M3D-Cap",
    task="report",
    to_sample=m3d_cap_sample,
    hub=None,
    local_files=("M3D_Cap.json", "M3D_Cap_test.json", "test.json"),
    local_reader=_m3d_cap_reader,
    max_new_tokens=512,
    volume_spec=VolumeSpec(sampling="all"),
    description="3D CT captioning / report generation (M3D-Cap test)",
)

AMOS_MM = Benchmark(
    name="amos_mm",
    title="AMOS-MM",
    task="report",
    to_sample=amos_sample,
    hub=None,
    local_files=("amos_val.json", "test.json"),
    max_new_tokens=1024,
    # MedUniEval: every slice file of the folder
    volume_spec=VolumeSpec(sampling="all"),
    description="3D abdominal CT report generation (AMOS-MM validation)",
)

CT_RATE = Benchmark(
    name="ct_rate_report",
    title="CT-RATE",
    task="report",
    to_sample=ct_rate_sample,
    hub=None,
    local_files=("validation_reports.csv", "dataset/radiology_text_reports/validation_reports.csv"),
    max_new_tokens=1024,
    # Hulu-Med's NIfTI example: 180 axial slices
    volume_spec=VolumeSpec(sampling="max", num_slices=180),
    description="3D chest CT report generation (CT-RATE validation)",
)
