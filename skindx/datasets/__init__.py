"""Datasets: ISIC metadata readers (HAM10000, ISIC 2018, 2019, 2020 and archive exports) into one
normalised frame, and the aggregated statistics, tables and plotly figures built from it.
"""
