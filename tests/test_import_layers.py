"""The package's import graph has floors and no arrow runs back up: no module imports
another of a higher layer, and no modules import each other in a circle. Every import
statement counts, those inside functions included (a lazy import hides a cycle, it
does not remove it). The layers are written down in docs/design.md ("Layers")."""
import ast
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

PACKAGE = Path(__file__).resolve().parents[1] / 'mmmim'

#: Floors, lowest first: a module may import modules of its own floor and of the floors
#: below. Each floor lists module-name prefixes under ``mmmim.``; the longest matching
#: prefix places a module. A top-level module (``mmmim/<name>.py``) that no prefix names
#: is on the ground floor; a sub-package that none names fails the test.
LAYERS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ('ground', ('registry', 'random_states', 'checkpoint_io', 'config_loading', 'mmcv_ops',
                'version')),
    ('models', ('models',)),
    ('datasets', ('datasets',)),
    ('converters', ('converters',)),
    ('visualization', ('visualization',)),
    ('engine', ('engine',)),
    ('entry', ('compat',)),                           # shims that ``import mmmim`` runs
)

Graph = Dict[str, Set[str]]


def module_name(path: Path) -> str:
    """``mmmim/a/b.py`` -> ``mmmim.a.b``; ``mmmim/a/__init__.py`` -> ``mmmim.a``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def package_modules() -> Dict[str, Path]:
    """Every module of the package as it is on disk now: name -> file."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def _known(name: str, modules: Dict[str, Path]) -> Optional[str]:
    """The longest prefix of the dotted ``name`` that is a package module, if any."""
    parts = name.split('.')
    for end in range(len(parts), 0, -1):
        candidate = '.'.join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _targets(node: ast.AST, module: str, is_package: bool,
             modules: Dict[str, Path]) -> List[str]:
    """The package modules one ``import`` / ``from ... import`` statement imports."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.level == 0:
        names = [f'{node.module}.{alias.name}' for alias in node.names]
    else:
        base = module.split('.')
        base = base[:len(base) - node.level + (1 if is_package else 0)]
        origin = '.'.join(base + ([node.module] if node.module else []))
        names = [f'{origin}.{alias.name}' for alias in node.names]
    found = (_known(name, modules) for name in names if name.split('.')[0] == 'mmmim')
    return [target for target in found if target is not None]


def import_graph(modules: Dict[str, Path]) -> Graph:
    """module -> the package modules it imports anywhere in its file (function-level
    imports too). Importing the package root (``import mmmim``, the stack shims) is
    left out: importing any module of it runs that already."""
    graph: Graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        statements = (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
        graph[module] = {t for node in statements
                         for t in _targets(node, module, path.name == '__init__.py', modules)
                         if t not in (module, 'mmmim')}
    return graph


def layer_of(module: str) -> Tuple[int, str]:
    """(floor index, floor name) of a package module (see :data:`LAYERS`)."""
    name = module[len('mmmim.'):]
    placed = [(len(prefix), floor) for floor, (_, prefixes) in enumerate(LAYERS)
              for prefix in prefixes if name == prefix or name.startswith(prefix + '.')]
    if placed:
        floor = max(placed)[1]
    elif '.' in name or (PACKAGE / name).is_dir():
        raise AssertionError(f'mmmim/{name.split(".")[0]}/ is on no floor: add it to '
                             f'LAYERS in {Path(__file__).name} and to "Layers" in '
                             'docs/design.md')
    else:
        floor = 0
    return floor, LAYERS[floor][0]


def upward_imports(graph: Graph) -> List[str]:
    """One message per import of a higher floor."""
    found = []
    for module, targets in sorted(graph.items()):
        if module == 'mmmim':
            continue
        (floor, name) = layer_of(module)
        for target in sorted(targets):
            (target_floor, target_name) = layer_of(target)
            if target_floor > floor:
                found.append(f'{module} imports {target}: layer {name} may not import '
                             f'layer {target_name}')
    return found


def cycles(graph: Graph) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_import_graph__no_module_imports_a_higher_layer():
    found = upward_imports(import_graph(package_modules()))
    assert not found, '\n'.join(found)


def test_import_graph__has_no_cycles():
    found = cycles(import_graph(package_modules()))
    assert not found, '\n'.join('modules that import each other in a circle: ' + ', '.join(c)
                                 for c in found)
