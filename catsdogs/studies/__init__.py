"""Stage 5, the studies: the limitations study (corruptions declared once) and its mitigation, ablations, label audits, the cross-validation report, the paper's claims and their verdicts.

Every public name of the modules below is importable from here; modules load on first use
(``lazy_loader``), so importing one module does not import its neighbours (or TensorFlow).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["ablation", "claims", "corruptions", "cv_report", "label_audit", "mitigation", "paper", "robustness"],
    submod_attrs={
        "ablation": [
            "record_ablation",
            "ablation_rows",
            "ablation_summary",
            "ablation_markdown",
            "ALPHA",
            "mcnemar_exact",
            "verdict",
            "SELECTION_FOLD",
            "compare_studies",
            "selection_sentence",
            "compare_dirs",
            "comparison_markdown",
        ],
        "claims": ["REPRODUCED", "NOT_REPRODUCED", "NOT_TESTABLE", "paper_claim_rows", "comparison_rows", "claim_rows"],
        "corruptions": [
            "SEVERITIES",
            "Corruption",
            "CORRUPTIONS",
            "corruption",
            "levels",
            "PAPER_LIMITATIONS",
            "darken",
            "low_light",
            "low_light_noise",
            "occlude",
            "occlusion",
            "occlusion_center",
            "grayscale",
            "blur",
            "jpeg",
            "corrupt",
            "example_grid",
        ],
        "cv_report": [
            "STUDIES",
            "TARGET",
            "gallery_figure",
            "book_figures_dir",
            "publish_study",
            "load_study",
            "studies_of",
            "fold_rows",
            "forest_rows",
            "ci_position",
            "verdict_markdown",
        ],
        "label_audit": [
            "audit_markdown",
            "AUDIT_METHOD",
            "LABEL_AUDIT_FILE",
            "NO_ANSWER",
            "VERDICTS",
            "audit_predictions",
            "audit_run",
            "read_label_audit",
        ],
        "mitigation": ["train_mitigation"],
        "paper": ["PAPER_CLAIMS"],
        "robustness": [
            "GRADCAM_OCCLUSION",
            "STUDY_LABELS",
            "STUDY",
            "FROM_CONFIG",
            "evaluate_corruptions",
            "OOD_KINDS",
            "make_ood",
            "ood_study",
            "calibration_study",
        ],
    },
)
