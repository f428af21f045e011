"""t2ue_eval: the *hacker side* of the efficacy evaluation.

Hackers read plain image directories (image files + captions.csv), train CLIP-style models or a
classifier from scratch on them, and are scored on clean test directories. Nothing in this package
may import the generator, the surrogate or the training/export code of `t2ue_models` (see
docs/efficacy.md, "import rule"); tests/test_eval_hackers.py enforces it.
"""
FORBIDDEN_IMPORTS = ("t2ue_models.nets", "t2ue_models.train", "t2ue_models.pipeline",
                     "t2ue_models.baselines", "t2ue_models.export")
