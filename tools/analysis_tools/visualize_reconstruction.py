"""Moved to tools/visualization/visualize_reconstruction.py (same arguments); this
path forwards to it."""
import runpy
import sys
from pathlib import Path

if __name__ == '__main__':
    target = Path(__file__).resolve().parents[1] / 'visualization' / 'visualize_reconstruction.py'
    sys.argv[0] = str(target)
    runpy.run_path(str(target), run_name='__main__')
