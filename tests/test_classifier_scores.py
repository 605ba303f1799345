"""The classifier figures of bench/quality.py: confidence and the classifier inception score,
against values worked out by hand."""

import math

import pytest
import torch

from genlab.metrics.classifier import classifier_scores


def test_one_clear_class_each_equally_often_scores_the_number_of_classes():
    p = torch.eye(4, dtype=torch.float64).repeat(5, 1)  # 20 samples, each one class for certain
    assert classifier_scores(p) == {"confidence": 1.0, "inception_score": pytest.approx(4.0, rel=1e-12)}


def test_the_same_distribution_everywhere_scores_one():
    p = torch.tensor([[0.7, 0.2, 0.1]] * 6, dtype=torch.float64)
    assert classifier_scores(p) == {"confidence": pytest.approx(0.7), "inception_score": pytest.approx(1.0)}


def test_a_mixed_case_by_hand():
    p = torch.tensor([[0.9, 0.1], [0.5, 0.5]], dtype=torch.float64)  # p(y) = (0.7, 0.3)
    kl = [0.9 * math.log(0.9 / 0.7) + 0.1 * math.log(0.1 / 0.3), 0.5 * math.log(0.5 / 0.7) + 0.5 * math.log(0.5 / 0.3)]
    scores = classifier_scores(p)
    assert scores["confidence"] == pytest.approx(0.7) and scores["inception_score"] == pytest.approx(
        math.exp(sum(kl) / 2)
    )
