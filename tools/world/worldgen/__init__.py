"""A synthetic scene world with exact ground truth (rlhfd issue 12).

Scenes of simple objects (shape, colour, size, position on a 3x3 grid) on a setting
(background); every caption, question and answer is derived from the structured scene, so a
rule-based judge can check any answer against the truth. Deterministic for a seed.

Modules: ``scene`` (the scene model and sampler), ``render`` (PNG images), ``language``
(descriptions and COCO-style captions), ``questions`` (MMHal-Bench's eight question types,
multiple-choice and yes/no forms), ``judge`` (the 0-6 rubric), ``hallucinate`` (grounded vs
hallucinated response pairs), ``dataset`` (splits on disk), ``export`` (Feedback API messages
and LLaVA-RLHF's JSON layouts).
"""

__version__ = "1"
