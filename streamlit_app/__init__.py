"""The Streamlit UI shell: entrypoint, page registry, cached resources and shared widgets.

Only the app imports this package; the library (``skindx``) never imports streamlit.
"""
