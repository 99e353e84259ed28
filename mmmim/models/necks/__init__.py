"""Detection necks over backbone feature maps."""
from .global_attention import GlobalAttentionFPN

__all__ = ['GlobalAttentionFPN']
