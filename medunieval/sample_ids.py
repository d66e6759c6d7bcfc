"""How each benchmark forms its sample ids: the ids a replay predictions file must use.

``row`` is the 0-based position of the row in the loaded data (after the benchmark's own
filtering, e.g. MMLU's medical subjects). When a dataset repeats an id, each repeat becomes
``<id>~<k>`` with the smallest ``k >= 2`` that no row carries (with a warning).
``medunieval predictions-template`` writes the exact ids for a benchmark and its data.
"""

from __future__ import annotations

_REPORT = "`id`, else `study_id`, else `dicom_id`, else the row"
_VQA3D = (
    "`id`, else `question_id`, else `qid`, else the row; an M3D-VQA csv row gives two: "
    "`<id>-closed` and `<id>-open`"
)

SAMPLE_IDS: dict[str, str] = {
    "vqa_rad": "`qid`, else the row",
    "slake": "`qid`",
    "path_vqa": "`id`, else the row",
    "medqa": "`realidx` (MedAgentsBench), else `id`, else the row",
    "medqa_op5": "`realidx`, else `id`, else the row",
    "medmcqa": "`id` (official), else `realidx`, else the row",
    "pubmedqa": "the PMID (official `ori_pqal.json` key / `pubid`); `id` or the row for the "
    "flattened layout",
    "mmlu_pro_med": "`question_id`, else `realidx`, else the row",
    "mmlu_med": "`realidx`, else `id`, else the row",
    "medbullets_op4": "`link`, else `realidx`, else the row",
    "medbullets_op5": "`link`, else `realidx`, else the row",
    "medxpertqa_text": "`id` (e.g. `Text-0`), else `realidx`, else the row",
    "medxpertqa_mm": "`id` (e.g. `MM-0`), else `realidx`, else the row",
    "supergpqa_med": "`uuid`, else the row",
    "omnimedvqa": "`question_id`, else the row",
    "medframeqa": "`question_id`, else the row",
    "pmc_vqa": "the csv's index column (unnamed, `index` or `Unnamed: 0`), else the row",
    "mmmu_med": "`id` (`validation_<Subject>_<n>`)",
    "mmmu_med_test": "`id` (`test_<Subject>_<n>`)",
    "cmb": "`id`, else the row",
    "cmexam": "`id`, else the row",
    "medqa_mcmle": "`id`, else the row",
    "cmmlu_med": "`<subject>-<row in the subject's csv>`",
    "mmedbench": "`id`, else `<Language>-<row>`",
    "radrestruct": "`<report file stem>-<question index in that file>`",
    "medmnist_vqa": "`id`, else the row",
    "healthbench": "`prompt_id`",
    "healthbench_consensus": "`prompt_id`",
    "healthbench_hard": "`prompt_id`",
    "rarebench": "`id`, else the JSON key, else `<subset>-<row>`",
    "iu_xray": _REPORT,
    "mimic_cxr": _REPORT,
    "chexpert_plus": _REPORT,
    "m3d_vqa": _VQA3D,
    "rad3d": _VQA3D,
    "m3d_cap": "`id`, else `question_id`, else `qid`, else the row",
    "amos_mm": "`id`, else `question_id`, else `qid`, else the row",
    "ct_rate_report": "the `VolumeName` without extension (`valid_1_a_1`)",
    "cholec80_vqa": "`<frame file path without extension>#<line>` (per-frame QA txt); `id` in "
    "JSONL / CSV",
    "endovis18_vqa": "`<frame file path without extension>#<line>` (per-frame QA txt); `id` in "
    "JSONL / CSV",
    "psi_ava_vqa": "`<frame file path without extension>#<line>` (per-frame QA txt); `id` in "
    "JSONL / CSV",
}
