# UM-MAE PVT-S, 200 epochs at 256 px: Swin-T's recipe with mmdet's PVT-S (dims
# 64/128/320/512, depths 3/4/6/3) on the compact grid: SR ratios 8/4/2/1 as for
# fine-tuning, halved to 4/2/1/1 on the compact grid; sin-cos positions of the
# full grid gathered at the visible units; the official UM-MAE init (mmdet's 1x1-conv
# FFN initialized as the official Linears).
_base_ = './ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py'
model = dict(encoder=dict(
    _delete_=True, type='MaskedPVT', pretrain_img_size=256, sr_ratios=(8, 4, 2, 1),
    masking='compact', secondary_token=True, weight_init='ummae'))
