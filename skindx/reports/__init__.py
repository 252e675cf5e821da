"""Reports: the batch results table and its formula-safe CSV, plotly figures of results and
evaluations, the one-image PNG report, and the model card rendered as Markdown.
"""
