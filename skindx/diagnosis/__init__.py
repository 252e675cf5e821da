"""Diagnosis: the ``Predictor`` (bytes or pixels → frozen ``Prediction`` records), clinical
context (age, sex, body site), the warning signs a person reports, and similar labelled lesions
from the model's feature space.
"""
