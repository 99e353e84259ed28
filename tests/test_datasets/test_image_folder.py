"""ImageFolder: finds the real photographs in all three layouts (recursively, any case
of extension, hidden files ignored); bad roots, empty folders and bad annotation lists
raise naming the path; a run of broken files raises naming the files and reasons."""
import shutil
from pathlib import Path

import pytest

from mmmim.datasets import ImageFolder, LoadImageSafely
from mmmim.datasets.demo import write_demo_classes

#: relative path in the test tree -> demo photo copied there
TREE = {
    'chelsea.jpg': 'chelsea.jpg',
    'sub/page.PNG': 'page.png',
    'sub/deeper/text.JPEG': 'text.jpg',
    'sub/deeper/microaneurysms.png': 'microaneurysms.png',
}
#: files that must not be collected
NOT_IMAGES = ['notes.txt', '.hidden/coins.png', 'sub/._chelsea.jpg']


@pytest.fixture
def photo_tree(tmp_path, demo_images_dir) -> Path:
    """Demo photos in nested folders, with a text file and hidden images."""
    root = tmp_path / 'photos'
    for rel, source in TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(demo_images_dir / source, root / rel)
    for rel in NOT_IMAGES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(demo_images_dir / 'coins.png', root / rel)
    return root


def rel_paths(dataset: ImageFolder, root: Path) -> list:
    return sorted(str(Path(dataset.get_data_info(i)['img_path']).relative_to(root))
                  for i in range(len(dataset)))


def test_image_folder__plain_folder_found_recursively_any_case_no_hidden(photo_tree):
    dataset = ImageFolder(data_root=str(photo_tree))
    assert rel_paths(dataset, photo_tree) == sorted(TREE)
    assert 'gt_label' not in dataset.get_data_info(0)


def test_image_folder__data_prefix_joined_with_data_root(photo_tree):
    dataset = ImageFolder(data_root=str(photo_tree), data_prefix='sub')
    assert rel_paths(dataset, photo_tree / 'sub') == sorted(
        p[len('sub/'):] for p in TREE if p.startswith('sub/'))


def test_image_folder__class_subfolders_give_sorted_classes_and_labels(tmp_path):
    write_demo_classes(tmp_path, names=['chelsea', 'coins', 'page', 'text', 'moon'])
    dataset = ImageFolder(data_root=str(tmp_path), data_prefix='train', with_label=True)
    assert dataset.CLASSES == ('document', 'object', 'scene', 'sky')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert Path(info['img_path']).parent.name == dataset.CLASSES[info['gt_label']]
    unlabeled = ImageFolder(data_root=str(tmp_path), data_prefix='train')
    assert len(unlabeled) == 5 and 'gt_label' not in unlabeled.get_data_info(0)


def test_image_folder__ann_list_with_and_without_labels(photo_tree):
    (photo_tree / 'list.txt').write_text(
        '# comment\nchelsea.jpg 3\n\nsub/page.PNG 1\nsub/deeper/text.JPEG\n')
    dataset = ImageFolder(data_root=str(photo_tree), ann_file='list.txt')
    assert rel_paths(dataset, photo_tree) == ['chelsea.jpg', 'sub/deeper/text.JPEG',
                                              'sub/page.PNG']
    (photo_tree / 'labeled.txt').write_text('chelsea.jpg 3\nsub/page.PNG 1\n')
    labeled = ImageFolder(data_root=str(photo_tree), ann_file='labeled.txt', with_label=True)
    assert [labeled.get_data_info(i)['gt_label'] for i in range(2)] == [3, 1]


def test_image_folder__labeled_demo_copy_list_matches_folders(tmp_path):
    write_demo_classes(tmp_path, names=['chelsea', 'coins', 'moon'])
    by_folder = ImageFolder(data_root=str(tmp_path), data_prefix='train', with_label=True)
    by_list = ImageFolder(data_root=str(tmp_path), data_prefix='train',
                          ann_file='meta/train.txt', with_label=True)
    as_set = lambda ds: {(ds.get_data_info(i)['img_path'], ds.get_data_info(i)['gt_label'])
                         for i in range(len(ds))}
    assert as_set(by_folder) == as_set(by_list)


def test_image_folder__ann_list_missing_file_names_list_line_and_path(photo_tree):
    (photo_tree / 'list.txt').write_text('chelsea.jpg\nsub/gone.jpg\n')
    with pytest.raises(FileNotFoundError) as info:
        ImageFolder(data_root=str(photo_tree), ann_file='list.txt')
    message = str(info.value)
    assert str(photo_tree / 'list.txt') in message and 'line 2' in message
    assert str(photo_tree / 'sub/gone.jpg') in message


def test_image_folder__listed_files_are_checked_on_rank_0_only(photo_tree, monkeypatch):
    """Distributed: ranks > 0 skip the per-image stat (rank 0 raises for all)."""
    import mmmim.datasets.image_folder as image_folder
    (photo_tree / 'list.txt').write_text('chelsea.jpg\nsub/gone.jpg\n')
    stats = []
    real_check = image_folder.ImageFolder._check_listed_files
    monkeypatch.setattr(image_folder.ImageFolder, '_check_listed_files',
                        lambda self, entries: stats.append(1) or real_check(self, entries))
    monkeypatch.setattr(image_folder, 'get_rank', lambda: 1)
    dataset = ImageFolder(data_root=str(photo_tree), ann_file='list.txt')
    assert len(dataset) == 2 and not stats
    monkeypatch.setattr(image_folder, 'get_rank', lambda: 0)
    with pytest.raises(FileNotFoundError, match='line 2'):
        ImageFolder(data_root=str(photo_tree), ann_file='list.txt')
    assert stats == [1]


def test_image_folder__ann_list_without_label_names_line_when_labels_needed(photo_tree):
    (photo_tree / 'list.txt').write_text('chelsea.jpg 0\nsub/page.PNG\n')
    with pytest.raises(ValueError, match=r'list\.txt, line 2: no label'):
        ImageFolder(data_root=str(photo_tree), ann_file='list.txt', with_label=True)


def test_image_folder__missing_ann_file_names_it(photo_tree):
    with pytest.raises(FileNotFoundError, match=str(photo_tree / 'meta/none.txt')):
        ImageFolder(data_root=str(photo_tree), ann_file='meta/none.txt')


@pytest.mark.parametrize('root, prefix', [('missing_root', ''), ('', 'missing_prefix')])
def test_image_folder__missing_root_or_prefix_names_path(tmp_path, root, prefix):
    data_root = tmp_path / root
    with pytest.raises(FileNotFoundError, match=f'{data_root / prefix}.* does not exist'):
        ImageFolder(data_root=str(data_root), data_prefix=prefix)


def test_image_folder__folder_without_images_names_path_and_extensions(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'notes.txt').write_text('no images here')
    with pytest.raises(FileNotFoundError) as info:
        ImageFolder(data_root=str(tmp_path))
    assert str(tmp_path) in str(info.value) and '*.jpg' in str(info.value)
    assert '*.webp' in str(info.value)


def test_image_folder__nothing_configured_rejected():
    with pytest.raises(ValueError, match='all empty'):
        ImageFolder()


def broken_folder(tmp_path: Path, n: int = 3) -> Path:
    for i in range(n):
        (tmp_path / f'broken{i}.jpg').write_bytes(b'not a jpeg at all' * i)
    return tmp_path


def test_image_folder__run_of_broken_files_raises_naming_files_and_reasons(tmp_path):
    root = broken_folder(tmp_path)
    dataset = ImageFolder(data_root=str(root), pipeline=[dict(type='LoadImageSafely')],
                          max_refetch=4)
    with pytest.raises(RuntimeError) as info:
        dataset[0]
    message = str(info.value)
    assert '5 samples in a row were dropped' in message
    assert str(root / 'broken0.jpg') + ': empty file (0 bytes)' in message
    assert 'not a known image format' in message


def test_image_folder__test_mode_broken_file_raises_naming_it(tmp_path):
    root = broken_folder(tmp_path, n=1)
    dataset = ImageFolder(data_root=str(root), pipeline=[LoadImageSafely()], test_mode=True)
    with pytest.raises(RuntimeError, match=str(root / 'broken0.jpg')):
        dataset[0]


def test_image_folder__transform_error_names_file(photo_tree):
    def explode(results: dict) -> dict:
        raise ValueError('bad crop')

    dataset = ImageFolder(data_root=str(photo_tree), pipeline=[LoadImageSafely(), explode])
    with pytest.raises(RuntimeError, match=f'{photo_tree / "chelsea.jpg"}.*bad crop'):
        dataset[0]
