"""Datasets: ISIC metadata readers (HAM10000, ISIC 2018, 2019, 2020 and archive exports) into one
normalised frame; labelled-image tables, lesion-level splits and the restructuring of an ISIC
download; the example images a server may hold; and the aggregated statistics, with their
tables, plotly figures and takeaways. Imports only ``images`` below it.
"""
