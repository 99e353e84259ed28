"""Checkpoint converters (registered in ``mmmim.registry.CONVERTERS`` as
``'<family>-><target>'``), the load report, position-embedding resizing and the
``MIMPretrained`` init_cfg type, and the importers of released pretraining
checkpoints into mmmim models (``'<source>->mmmim'``). Importing this package
registers all of them."""
from mmmim.checkpoint_io import read_checkpoint
from mmmim.models.pos_embed import resize_abs_pos_embed, resize_rel_pos_bias_table

# families register their converters; importers register '<source>->mmmim'
from . import files, import_swin, import_vit, pvt, swin, vit  # noqa: F401
from .common import (
    available_converters,
    convert_checkpoint,
    get_converter,
    guess_family,
    split_backbone,
)
from .imports import (
    check_load_from,
    detect_source,
    import_checkpoint,
    import_file,
    import_sources,
)
from .initializer import MIMPretrained, detect_family, target_grid
from .report import ConversionError, LoadReport, load_converted

#: The checkpoint reader of every load (mmmim.checkpoint_io), under its converter name.
load_weights = read_checkpoint

__all__ = ['ConversionError', 'LoadReport', 'MIMPretrained', 'available_converters',
           'check_load_from',
           'convert_checkpoint', 'detect_family', 'detect_source', 'get_converter',
           'guess_family', 'import_checkpoint', 'import_file', 'import_sources',
           'load_converted', 'load_weights', 'resize_abs_pos_embed',
           'resize_rel_pos_bias_table', 'split_backbone', 'target_grid']
