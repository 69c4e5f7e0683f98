"""Stage 4, training: the two phases in a run directory, exact resumption, cross-validation.

Every public name of the modules below is importable from here; modules load on first use
(``lazy_loader``), so importing one module does not import its neighbours (or TensorFlow).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["cv", "explore", "resume", "train"],
    submod_attrs={
        "cv": ["CrossValidation", "run_cv", "training_variance"],
        "explore": ["EXPLORE_FILE", "exploration_manifest", "check_candidate", "prepare_exploration", "explore"],
        "resume": ["STATE_FILE", "BEST_WEIGHTS_FILE", "finished_epochs", "advance_shuffle", "drop", "ResumeState"],
        "train": [
            "EPOCH_SECONDS_FILE",
            "save_phase_result",
            "phase_result",
            "extract_features",
            "train_phase1",
            "fine_tune",
            "predict_logits",
            "train_phase2",
            "fork_after_phase1",
        ],
    },
)
