# HTC++ Swin-B, 3x (36 epochs), with the COCO-stuff semantic branch, no InstaBoost.
# Target: none published. The Swin paper's Swin-B HTC++ (IN-22K supervised, 6x, with
# InstaBoost) is 56.4 box / 49.1 mask AP (microsoft/Swin-Transformer README); this is
# its 3x schedule without InstaBoost, for mmmim Swin-B checkpoints (LocalMIM, SimMIM).
_base_ = '../_base_/htc++_swin_fpn_coco.py'
