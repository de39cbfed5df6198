"""Disjoint ShapesWorld seed ranges for training, validation and test (listed in README.md).

Training clips use seeds from TRAIN_START upward (one per rendered clip, never reused in a run);
validation uses VAL_SEEDS (model selection and the calibration curve only); TEST_SEEDS are used for
nothing but the final numbers on the model card. The ranges cannot overlap: training seeds are
>= 1_000_000, validation 8001-8020, test 9001-9010 (each preset uses the same seed list).
"""

TRAIN_START = 1_000_000
TRAIN_END = 9_000_000_000  # exclusive; far more than any run renders
VAL_SEEDS = list(range(8001, 8021))
TEST_SEEDS = list(range(9001, 9011))
PRESETS = ("easy", "standard", "hard")


def check_disjoint():
    train = range(TRAIN_START, TRAIN_END)
    assert not any(s in train for s in VAL_SEEDS + TEST_SEEDS)
    assert not set(VAL_SEEDS) & set(TEST_SEEDS)


check_disjoint()
