"""Stage 3, evaluation: the one model loader and P(dog), metrics (one table of them), bootstrap CIs, calibration, exports and latency, Grad-CAM.

Every public name of the modules below is importable from here; modules load on first use
(``lazy_loader``), so importing one module does not import its neighbours (or TensorFlow).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["bootstrap", "calibration", "evaluate", "explain", "export", "external", "metrics", "predict"],
    submod_attrs={
        "bootstrap": ["BOOTSTRAP_METRICS", "DEFAULT_INTERVALS", "bootstrap_ci"],
        "calibration": ["reliability", "fit_temperature", "apply_temperature"],
        "evaluate": ["evaluate_run", "evaluate_directory"],
        "explain": ["gradcam_model", "gradcam", "peak_locations", "overlay"],
        "export": [
            "EXPORTS",
            "convert_to_tflite",
            "current_export",
            "export_run",
            "publish",
            "export_files",
            "bench_run",
            "format_bench",
        ],
        "external": [
            "DECISION_THRESHOLD",
            "predict_set",
            "model_info",
            "evaluate_external_set",
            "evaluate_external",
            "format_set",
            "format_external",
        ],
        "metrics": [
            "Metric",
            "METRICS",
            "SHOWN_METRICS",
            "PRF_READINGS",
            "THRESHOLD_METRICS",
            "check_binary_inputs",
            "check_threshold",
            "check_positive_int",
            "both_classes",
            "finite_or_none",
            "safe_ratio",
            "predict_labels",
            "classification_metrics",
            "roc_pr_curves",
            "most_confident_mistakes",
            "wilson_interval",
        ],
        "predict": [
            "MODEL_STEM",
            "KEEP_IN_DISTRIBUTION",
            "Predictor",
            "KerasPredictor",
            "TFLitePredictor",
            "load_predictor",
            "predict_paths",
            "published_model_dir",
            "default_model_path",
            "published_model_record",
            "ood_threshold",
            "confidence",
            "fit_ood_threshold",
            "predict_files",
        ],
    },
)
