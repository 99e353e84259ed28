# HTC++ Swin-B, 3x, WITHOUT the COCO-stuff semantic branch (no stuffthingmaps needed).
# Target: none published (every published HTC++ number uses the semantic branch).
_base_ = './htc++_swin-b-p4-w7_fpn_ms-400-1400-16xb1-3x_coco.py'
model = dict(data_preprocessor=dict(pad_seg=False),
             roi_head=dict(semantic_roi_extractor=None, semantic_head=None))
train_pipeline = [dict(step, with_seg=False) if step.type == 'LoadAnnotations' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(data_prefix=dict(_delete_=True, img='train2017/'),
                                     pipeline=train_pipeline))
