# LocalMIM's Swin-B fine-tuning after its 100-epoch pretraining (official
# Swin/README.md): the 400-epoch checkpoint's recipe with lr 5e-3 for batch 1024.
_base_ = ['./localmim_swin-base-w7_8xb128-ft-ld0.9-coslr-100e_in1k.py']

optim_wrapper = dict(optimizer=dict(lr=5e-3))
