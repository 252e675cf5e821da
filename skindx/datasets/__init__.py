"""Datasets: CSV text decoding (``csv_text``), ISIC metadata readers (HAM10000, ISIC 2018, 2019,
2020 and archive exports) into one normalised frame (``metadata``), and the statistics built from
it: naming and order (``names``), the summary and its cube (``summary``), CSV files and uploads
into summaries (``uploads``), ``filters`` over the cube, and per chart its ``tables``, ``figures``
and ``takeaways``.
"""
