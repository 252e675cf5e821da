"""Teaching: markdown lessons with front matter, their parsing and rendering, quizzes, glossary,
slides, search, live figures, the image quiz and printable handouts.
"""
