"""Refusal correctness per case: accuracy always, precision only when refused, recall only when it must refuse."""

from logtune.evaluate.metrics.refusal import refusal_scores, refused


def test_refusals_phrased_unusually_are_recognised():
    assert refused("Hmm, I'm not able to locate anything like that for you.")
    assert refused("That record isn't in the context I have.")
    assert not refused("PRJ-1042 is in progress.")


def test_scores_by_outcome():
    assert refusal_scores(True, True) == {"refusal_accuracy": 1.0, "refusal_precision": 1.0, "refusal_recall": 1.0}
    # over-refusal: precision 0, recall not applicable
    assert refusal_scores(True, False) == {"refusal_accuracy": 0.0, "refusal_precision": 0.0, "refusal_recall": None}
    # answered a must-refuse case: recall 0, precision not applicable
    assert refusal_scores(False, True) == {"refusal_accuracy": 0.0, "refusal_precision": None, "refusal_recall": 0.0}
    assert refusal_scores(False, False) == {"refusal_accuracy": 1.0, "refusal_precision": None, "refusal_recall": None}
