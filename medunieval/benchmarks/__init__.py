"""Benchmark registry. Built-in declarations live in this package, one module each; plugins
add theirs through the ``medunieval.benchmarks`` entry-point group (value: a ``Benchmark``)."""

from __future__ import annotations

from ..registry import Registry
from .base import Benchmark

BENCHMARKS: Registry[Benchmark] = Registry("benchmark", "medunieval.benchmarks")

for _name, _target in {
    "vqa_rad": "vqa_rad:BENCHMARK",
    "slake": "slake:BENCHMARK",
    "path_vqa": "path_vqa:BENCHMARK",
    "medqa": "medqa:BENCHMARK",
    "medqa_op5": "medqa:BENCHMARK_OP5",
    "medmcqa": "medmcqa:BENCHMARK",
    "pubmedqa": "pubmedqa:BENCHMARK",
    "mmlu_pro_med": "mmlu_pro:BENCHMARK",
    "mmlu_med": "mmlu_med:BENCHMARK",
    "medbullets_op4": "medbullets:BENCHMARK_OP4",
    "medbullets_op5": "medbullets:BENCHMARK_OP5",
    "medxpertqa_text": "medxpertqa:BENCHMARK",
    "supergpqa_med": "supergpqa:BENCHMARK",
    "omnimedvqa": "omnimedvqa:BENCHMARK",
    "cmb": "cmb:BENCHMARK",
    "cmexam": "cmexam:BENCHMARK",
    "medqa_mcmle": "medqa_mcmle:BENCHMARK",
    "cmmlu_med": "cmmlu_med:BENCHMARK",
    "mmedbench": "mmedbench:BENCHMARK",
    "mmmu_med": "mmmu:BENCHMARK",
    "mmmu_med_test": "mmmu:BENCHMARK_TEST",
    "medxpertqa_mm": "medxpertqa_mm:BENCHMARK",
    "medframeqa": "medframeqa:BENCHMARK",
    "pmc_vqa": "pmc_vqa:BENCHMARK",
    "radrestruct": "radrestruct:BENCHMARK",
    "medmnist_vqa": "medmnist_vqa:BENCHMARK",
    "healthbench": "healthbench:BENCHMARK",
    "healthbench_hard": "healthbench:BENCHMARK_HARD",
    "healthbench_consensus": "healthbench:BENCHMARK_CONSENSUS",
    "rarebench": "rarebench:BENCHMARK",
    "iu_xray": "iu_xray:BENCHMARK",
    "mimic_cxr": "mimic_cxr:BENCHMARK",
    "chexpert_plus": "chexpert_plus:BENCHMARK",
    "m3d_vqa": "m3d_vqa:BENCHMARK",
    "rad3d": "rad3d:BENCHMARK",
    "m3d_cap": "report3d:M3D_CAP",
    "amos_mm": "report3d:AMOS_MM",
    "ct_rate_report": "report3d:CT_RATE",
    "cholec80_vqa": "surgical_vqa:CHOLEC80",
    "endovis18_vqa": "surgical_vqa:ENDOVIS18",
    "psi_ava_vqa": "surgical_vqa:PSI_AVA",
}.items():
    BENCHMARKS.register(_name, f"{__name__}.{_target}")

__all__ = ["BENCHMARKS", "Benchmark"]
