"""Teaching: markdown lessons with front matter, quizzes, glossary, slides, search, live figures,
the image quiz and printable handouts.
"""
