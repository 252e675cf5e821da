"""Teaching: markdown lessons with front matter (``lesson``, ``parsing``, ``lessons``), live
figures, rendering and slides, quizzes, glossary, search, example images and the image quiz, and
printable handouts.
"""
