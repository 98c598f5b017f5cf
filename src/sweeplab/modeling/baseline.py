"""The baseline every sweep must beat: bag-of-words counts and a logistic regression."""

from __future__ import annotations

from sweeplab.modeling.vectorize import tokenize


def baseline():
    """Bag-of-words counts + LogisticRegression. It splits text into words as the models do
    (:func:`~sweeplab.modeling.vectorize.tokenize`: one-letter words kept, "don't" one word), so that a model's
    lift over it measures the model, not a different tokenizer."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([("bow", CountVectorizer(analyzer=tokenize)), ("logreg", LogisticRegression(max_iter=1000))])
