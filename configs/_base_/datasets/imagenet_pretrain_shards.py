# imagenet_pretrain.py reading WebDataset-format tar shards instead of the folder:
#     python tools/dataset_converters/make_shards.py data/imagenet/train \
#         data/imagenet_shards/train --shard-size 5000 [--max-side 512]
# The samples keep the folder's order (same sampler seed, same batches); the pipeline
# is unchanged (LoadAndRandomResizedCrop (or LoadImageSafely) reads shard members through mmengine's fileio).
# Shards on object storage: set data_root to the index's URL (s3://..., where that
# mmengine backend is installed) and give the loader a local cache for the shards:
#     dict(type='LoadImageSafely', backend_args=dict(cache_dir='/local/disk/shards'))
_base_ = './imagenet_pretrain.py'

train_dataloader = dict(dataset=dict(
    _delete_=True, type='TarShardDataset', data_root='data/imagenet_shards/train',
    ann_file='index.json', pipeline={{_base_.train_pipeline}}))
