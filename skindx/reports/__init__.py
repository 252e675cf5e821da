"""Reports: the batch results table and its formula-safe CSV, plotly figures of results and
evaluations, the one-image PNG report, the model card rendered as Markdown, and the words,
figures and tables the Model card page and the Saliency explorer lay out.
"""
