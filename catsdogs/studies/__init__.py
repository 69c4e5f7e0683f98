"""Stage 5, the studies: the limitations study (corruptions declared once) and its mitigation, ablations, label audits, the cross-validation report, the paper's claims and their verdicts.

Its modules: ``ablation``, ``claims``, ``corruptions``, ``cv_report``, ``exploration``,
``generalization``, ``label_audit``, ``mitigation``, ``paper``, ``robustness``, ``trainings``,
``verdicts``. Import them by name (``from catsdogs.studies import ablation``): the package
re-exports nothing, so importing one module does not import its neighbours (or TensorFlow).
"""
