"""Deployment config: the hardened ``.streamlit/config.toml``, and no upload in ``st.cache_data``.

``st.cache_data`` is shared by every session of the server and keyed by its arguments, so a
cached function that receives an upload keeps one person's photo in memory for the next
person. The rule checked here (by reading the source with ``ast``, across ``pages/`` and
``streamlit_app/``):

1. A ``cache_data`` function (``@st.cache_data``, ``@st.cache_data(...)``, an imported alias of
   ``streamlit.cache_data``, or ``st.cache_data(fn)``) has no parameter that is named like
   upload content or annotated with an upload type. A name is upload-like when it is one of
   ``UPLOAD_NAMES`` or one of its ``_``-separated words is in ``UPLOAD_WORDS``
   (``uploaded_file``, ``image_bytes``, ``photo``); upload types are ``UPLOAD_TYPES``
   (``UploadedFile``, ``bytes``, ``BytesIO``, ``np.ndarray``, ``PIL.Image``...).
2. No value derived from ``st.file_uploader(...)`` or ``st.camera_input(...)`` is passed to a
   ``cache_data`` function. "Derived" is transitive within a scope (anything assigned from an
   expression that mentions a derived name: ``upload.getvalue()``, ``load_image(data)``,
   a prediction), flows into the parameters of a local function it is passed to and out of
   a local function that returns it, and is seen by nested functions. Anything read from
   ``st.session_state`` counts as derived too: pages hand photos to each other through it
   (Diagnose → Saliency explorer). Any function named like a ``cache_data`` function anywhere
   in the scanned files counts, so a cached helper in ``streamlit_app/`` is caught from a page.
3. A ``cache_data`` function does not itself call ``file_uploader`` or ``camera_input``.

The checker is tested on a table of small snippets, so a rule that silently stops matching
fails here too. ``st.cache_resource`` (the model, the predictor) is out of scope: it holds
objects built from the repository, never from a session.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skindx.config import settings

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / ".streamlit" / "config.toml"

HARDENED = {
    ("server", "enableXsrfProtection"): True,
    ("server", "enableCORS"): True,
    ("server", "enableStaticServing"): False,
    ("browser", "gatherUsageStats"): False,
}

UPLOAD_WIDGETS = frozenset({"file_uploader", "camera_input"})
UPLOAD_NAMES = frozenset({"data", "raw", "content", "contents", "payload", "blob", "buf"})
UPLOAD_WORDS = frozenset(
    {
        "upload",
        "uploads",
        "uploaded",
        "file",
        "files",
        "bytes",
        "image",
        "images",
        "img",
        "photo",
        "photos",
        "picture",
        "pixels",
        "buffer",
        "camera",
        "snapshot",
    }
)
UPLOAD_TYPES = frozenset(
    {"UploadedFile", "bytes", "bytearray", "memoryview", "BytesIO", "ndarray", "Image"}
)


def app_sources() -> list[Path]:
    files = sorted((REPO / "pages").glob("*.py")) + sorted((REPO / "streamlit_app").rglob("*.py"))
    return [path for path in files if path.is_file()]


# --------------------------------------------------------------------------- config.toml


def read_config() -> dict:
    if not CONFIG.is_file():
        pytest.fail(
            f"{CONFIG.relative_to(REPO)} is missing. The app needs it for its hardened server "
            "settings (upload cap, XSRF, CORS, no usage stats, no error details, no static "
            "serving); see docs/architecture.md."
        )
    with CONFIG.open("rb") as handle:
        return tomllib.load(handle)


def test_config_keeps_the_hardened_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKINDX_MAX_UPLOAD_MB", raising=False)
    config = read_config()
    found = {(section, key): config.get(section, {}).get(key) for section, key in HARDENED}
    assert found == HARDENED
    assert config.get("server", {}).get("maxUploadSize") == settings().max_upload_mb
    assert config.get("client", {}).get("showErrorDetails") in (False, "none")


def _keys(table: dict, prefix: str = "") -> Iterator[str]:
    """Every option's dotted name in a config table, nested tables ([theme.dark]) included."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_streamlit_reads_the_same_values() -> None:
    """Every key in the file is a real Streamlit option (a misspelt key is silently ignored),
    and Streamlit itself resolves the hardened values from the repository root."""
    read_config()
    keys = [f"{s}.{k}" for s, k in HARDENED] + ["server.maxUploadSize", "client.showErrorDetails"]
    code = textwrap.dedent(
        f"""
        import json, streamlit.config as c
        options = c.get_config_options(force_reparse=True)
        print(json.dumps({{"known": sorted(options), "values": {{k: c.get_option(k)
                          for k in {keys!r}}}}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env["HOME"] = str(REPO / ".no-home")  # ignore a developer's ~/.streamlit/config.toml
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    in_file = list(_keys(read_config()))
    unknown = sorted(set(in_file) - set(result["known"]))
    assert not unknown, f"not Streamlit options (misspelt?): {unknown}"
    values = result["values"]
    for (section, key), expected in HARDENED.items():
        assert values[f"{section}.{key}"] == expected, f"{section}.{key}"
    assert values["server.maxUploadSize"] == settings().max_upload_mb
    assert values["client.showErrorDetails"] in (False, "none")


# --------------------------------------------------------------------------- cache_data checker


@dataclass
class Violation:
    file: str
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.detail}"


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _is_upload_name(name: str) -> bool:
    bare = name.strip("_").lower()
    return bare in UPLOAD_NAMES or bool(set(bare.split("_")) & UPLOAD_WORDS)


def _annotation_types(annotation: ast.AST | None) -> set[str]:
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval")
        except SyntaxError:
            return set()
    names = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def _all_params(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    args = function.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    params += [arg for arg in (args.vararg, args.kwarg) if arg is not None]
    return params


@dataclass
class _Module:
    name: str
    tree: ast.Module
    cache_aliases: set[str] = field(default_factory=set)  # dotted names meaning cache_data
    cached: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)


def _cache_aliases(tree: ast.Module) -> set[str]:
    aliases = {"st.cache_data", "streamlit.cache_data"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "streamlit" and alias.asname:
                    aliases.add(f"{alias.asname}.cache_data")
        elif isinstance(node, ast.ImportFrom) and node.module == "streamlit":
            for alias in node.names:
                if alias.name == "cache_data":
                    aliases.add(alias.asname or alias.name)
    return aliases


def _is_cache_data(node: ast.AST, aliases: set[str]) -> bool:
    return _dotted(node) in aliases


def _widget_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func).rsplit(".", 1)[-1] in UPLOAD_WIDGETS


class _Scope:
    def __init__(self, node: ast.AST, parent: _Scope | None) -> None:
        self.node, self.parent = node, parent
        self.tainted: set[str] = set()
        self.assigned: set[str] = set()

    def is_tainted(self, name: str) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.tainted:
                return True
            if name in scope.assigned:
                return False
            scope = scope.parent
        return False


def _own_statements(node: ast.AST) -> list[ast.AST]:
    """Nodes of ``node``'s body, not descending into nested functions or classes."""
    out, stack = [], list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        out.append(child)
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(child))
    return out


def _target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _bindings(node: ast.AST) -> list[tuple[set[str], ast.AST]]:
    """(names bound, value expression) for every binding statement form."""
    if isinstance(node, ast.Assign):
        return [(set().union(*(_target_names(t) for t in node.targets)), node.value)]
    if isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
        return [(_target_names(node.target), node.value)]
    if isinstance(node, ast.NamedExpr):
        return [(_target_names(node.target), node.value)]
    if isinstance(node, ast.For | ast.AsyncFor):
        return [(_target_names(node.target), node.iter)]
    if isinstance(node, ast.With | ast.AsyncWith):
        return [
            (_target_names(item.optional_vars), item.context_expr)
            for item in node.items
            if item.optional_vars is not None
        ]
    if isinstance(node, ast.comprehension):
        return [(_target_names(node.target), node.iter)]
    return []


def find_violations(sources: dict[str, str]) -> list[Violation]:
    """Check the three rules over ``{file name: source}``."""
    modules = []
    for name, source in sources.items():
        tree = ast.parse(source, filename=name)
        modules.append(_Module(name, tree, _cache_aliases(tree)))
    violations: list[Violation] = []

    for module in modules:  # rules 1 and 3; collect cached functions
        for node in ast.walk(module.tree):
            cached_here: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                _is_cache_data(d, module.cache_aliases) for d in node.decorator_list
            ):
                cached_here.append(node)
            elif (
                isinstance(node, ast.Call)
                and _is_cache_data(node.func, module.cache_aliases)
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                cached_here += [
                    f
                    for f in ast.walk(module.tree)
                    if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                    and f.name == node.args[0].id
                ]
            for function in cached_here:
                module.cached[function.name] = function
                for param in _all_params(function):
                    types = _annotation_types(param.annotation) & UPLOAD_TYPES
                    if _is_upload_name(param.arg) or types:
                        why = f"annotated {sorted(types)}" if types else "named like upload data"
                        violations.append(
                            Violation(
                                module.name,
                                function.lineno,
                                "cached-parameter",
                                f"cache_data function {function.name}() takes {param.arg!r} "
                                f"({why})",
                            )
                        )
                for inner in ast.walk(function):
                    if _widget_call(inner):
                        violations.append(
                            Violation(
                                module.name,
                                inner.lineno,
                                "widget-in-cache",
                                f"cache_data function {function.name}() calls an upload widget",
                            )
                        )
    cached_names = {name for module in modules for name in module.cached}

    for module in modules:  # rule 2: taint from the widgets into cached calls
        violations += _upload_into_cache(module, cached_names)
    return violations


_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class _Taint:
    """Which names in which scope of one module hold upload-derived values (to a fixpoint)."""

    def __init__(self, tree: ast.Module) -> None:
        self.scopes: dict[ast.AST, _Scope] = {}
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.returns_upload: set[str] = set()  # local functions that return derived values
        self._build(tree, None)
        while self._propagate():
            pass

    def _build(self, node: ast.AST, parent: _Scope | None) -> None:
        scope = _Scope(node, parent)
        self.scopes[node] = scope
        if isinstance(node, _FUNCTION_NODES):
            scope.assigned |= {arg.arg for arg in _all_params(node)}  # type: ignore[arg-type]
        for child in _own_statements(node):
            for names, _ in _bindings(child):
                scope.assigned |= names
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.setdefault(child.name, child)
            if isinstance(child, _FUNCTION_NODES):
                self._build(child, scope)

    def mentions(self, expr: ast.AST, scope: _Scope) -> bool:
        for n in ast.walk(expr):
            if _widget_call(n) or (isinstance(n, ast.Name) and scope.is_tainted(n.id)):
                return True
            if isinstance(n, ast.Attribute) and n.attr == "session_state":
                return True
            if (
                isinstance(n, ast.Call)
                and isinstance(n.func, ast.Name)
                and n.func.id in self.returns_upload
            ):
                return True
        return False

    def _propagate(self) -> bool:
        changed = False
        for scope in self.scopes.values():
            for node in _own_statements(scope.node):
                for names, value in _bindings(node):
                    if names - scope.tainted and self.mentions(value, scope):
                        scope.tainted |= names
                        changed = True
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    changed |= self._into_callee(node, scope)
                if (
                    isinstance(node, ast.Return)
                    and isinstance(scope.node, ast.FunctionDef | ast.AsyncFunctionDef)
                    and scope.node.name not in self.returns_upload
                    and node.value is not None
                    and self.mentions(node.value, scope)
                ):
                    self.returns_upload.add(scope.node.name)
                    changed = True
        return changed

    def _into_callee(self, call: ast.Call, scope: _Scope) -> bool:
        callee = self.functions.get(call.func.id)  # type: ignore[attr-defined]
        if callee is None:
            return False
        params = [a.arg for a in [*callee.args.posonlyargs, *callee.args.args]]
        passed = list(zip(params, call.args, strict=False))
        passed += [(k.arg, k.value) for k in call.keywords if k.arg]
        target = self.scopes[callee]
        fresh = {name for name, value in passed if self.mentions(value, scope)} - target.tainted
        target.tainted |= fresh
        return bool(fresh)


def _upload_into_cache(module: _Module, cached_names: set[str]) -> list[Violation]:
    taint = _Taint(module.tree)
    found = []
    for scope in taint.scopes.values():
        for node in _own_statements(scope.node):
            if not isinstance(node, ast.Call):
                continue
            callee = _dotted(node.func).rsplit(".", 1)[-1]
            direct = isinstance(node.func, ast.Call) and _is_cache_data(
                node.func.func, module.cache_aliases
            )
            if callee not in cached_names and not direct:
                continue
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if any(taint.mentions(arg, scope) for arg in arguments):
                found.append(
                    Violation(
                        module.name,
                        node.lineno,
                        "upload-into-cache",
                        f"upload-derived value passed to cache_data function {callee}()",
                    )
                )
    return found


# --------------------------------------------------------------------------- the checker's tests

BAD = {
    "decorated, bytes param": """
        import streamlit as st
        @st.cache_data
        def decode(data):
            return data
    """,
    "decorated with options, annotated": """
        import streamlit as st
        @st.cache_data(ttl=60, show_spinner=False)
        def decode(payload_in: "UploadedFile | None"):
            return payload_in
    """,
    "aliased import": """
        from streamlit import cache_data as cd
        @cd
        def thumbnail(photo):
            return photo
    """,
    "module alias": """
        import streamlit as s
        @s.cache_data
        def run(model_name, image_bytes):
            return model_name
    """,
    "wrapped call form": """
        import streamlit as st
        def _run(uploaded_file):
            return uploaded_file
        run = st.cache_data(_run)
    """,
    "taint through getvalue and load": """
        import streamlit as st
        from skindx.images.loading import load_image
        @st.cache_data
        def summarise(key):
            return key
        upload = st.file_uploader("Photo")
        if upload is not None:
            content_ = upload.getvalue()
            pixels_ = load_image(content_)
            summarise(pixels_.tobytes())
    """,
    "taint through a local function": """
        import streamlit as st
        @st.cache_data
        def chart(key):
            return key
        def show(result):
            chart(key=result)
        def main():
            shot = st.camera_input("Take a photo")
            if shot:
                show(shot.read())
        main()
    """,
    "taint through a returned value": """
        import streamlit as st
        @st.cache_data
        def chart(key):
            return key
        def inputs():
            files = list(st.file_uploader("x", accept_multiple_files=True) or [])
            return files
        def analyse(files):
            for upload in files:
                chart(upload.name)
        analyse(inputs())
    """,
    "photo handed over in session_state": """
        import streamlit as st
        @st.cache_data
        def heatmap(key, method):
            return key
        held = st.session_state.get("sal_image")
        if held:
            heatmap(held["id"], "gradcam")
    """,
    "direct cache_data call": """
        import streamlit as st
        up = st.file_uploader("x")
        st.cache_data(lambda k: k)(up)
    """,
    "widget inside cached function": """
        import streamlit as st
        @st.cache_data
        def page(key):
            return st.file_uploader(key)
    """,
}

GOOD = {
    "cached metadata, upload not cached": """
        import streamlit as st
        @st.cache_data(show_spinner=False)
        def bundled(path: str):
            return path
        @st.cache_resource
        def predictor(model_dir, image_size):
            return model_dir
        upload = st.file_uploader("Photo")
        table = bundled("content/stats.json")
        if upload is not None:
            result = predictor("models/default", 112).predict(upload.getvalue())
            st.write(result)
    """,
    "same names in unrelated scopes": """
        import streamlit as st
        @st.cache_data
        def lesson(slug):
            return slug
        def diagnose():
            data_ = st.file_uploader("x")
            return data_
        def teach():
            data_ = "abcde"
            return lesson(data_)
    """,
}


@pytest.mark.parametrize("case", list(BAD))
def test_checker_flags(case: str) -> None:
    assert find_violations({case: textwrap.dedent(BAD[case])}), case


@pytest.mark.parametrize("case", list(GOOD))
def test_checker_passes(case: str) -> None:
    assert find_violations({case: textwrap.dedent(GOOD[case])}) == []


def test_no_page_caches_upload_bytes_with_cache_data() -> None:
    files = app_sources()
    if not files:
        pytest.fail("no pages/*.py or streamlit_app/*.py found to check")
    sources = {str(path.relative_to(REPO)): path.read_text(encoding="utf-8") for path in files}
    violations = find_violations(sources)
    assert not violations, "\n".join(map(str, violations))
