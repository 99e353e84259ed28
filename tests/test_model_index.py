"""model-index.yml and the metafiles: every config of a zoo folder is listed, every
listed file exists, and every entry names its paper; README links resolve."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def metafiles():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    return [ROOT / path for path in index['Import']]


def test_model_index__imports_a_metafile_of_every_method_folder():
    listed = {p.parent.name for p in metafiles()}
    assert all(p.is_file() for p in metafiles())
    assert {'mae', 'ummae', 'simmim', 'pixmim', 'localmim'} <= listed
    on_disk = {p.parent.name for p in (ROOT / 'configs').glob('*/metafile.yml')}
    assert on_disk == listed


def test_metafiles__list_exactly_the_config_files_of_their_folder():
    for metafile in metafiles():
        models = yaml.safe_load(metafile.read_text())['Models']
        listed = [m['Config'] for m in models]
        assert len(listed) == len(set(listed)), metafile
        assert all((ROOT / c).is_file() for c in listed), metafile
        on_disk = {str(p.relative_to(ROOT)) for p in metafile.parent.glob('*.py')}
        assert set(listed) == on_disk, (metafile, on_disk ^ set(listed))
        assert all(m['Name'] == Path(m['Config']).stem for m in models)


def test_metafiles__every_model_has_a_paper_and_sourced_results():
    for metafile in metafiles():
        doc = yaml.safe_load(metafile.read_text())
        collections = {c['Name']: c for c in doc['Collections']}
        for c in collections.values():
            assert c['Paper']['URL'].startswith('https://arxiv.org/abs/'), c['Name']
            assert (ROOT / c['README']).is_file(), c['README']
        for model in doc['Models']:
            assert model['In Collection'] in collections, model['Name']
            for result in model.get('Results', []):
                assert 'paper' in result['Reported By'], model['Name']
                assert all(0 < v < 100 for v in result['Metrics'].values()), model['Name']


def test_readme_and_docs__relative_links_resolve():
    for page in [ROOT / 'README.md', *sorted((ROOT / 'docs').rglob('*.md'))]:
        for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', page.read_text()):
            if '://' in target or target.startswith('mailto:'):
                continue
            assert (page.parent / target).exists(), f'{page.relative_to(ROOT)}: {target}'
