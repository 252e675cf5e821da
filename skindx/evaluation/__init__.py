"""Evaluation: classification metrics on arrays, the official ISIC 2018 scorer, label checks,
triage and calibration figures, subgroups and external image collections, and what darker,
brighter or blurrier photos cost the model.
"""
