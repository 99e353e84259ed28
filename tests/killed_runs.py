"""Start a training script in a subprocess and wait until it is inside the moment to
kill it (a hook writes ``signal_file`` there): the SIGKILL tests' common start."""
import subprocess
import sys
import time
from pathlib import Path

import pytest


def start_until(script: str, env: dict, signal_file: Path, output: Path,
                seconds: float = 240) -> subprocess.Popen:
    """``python -c script`` (stdout and stderr to ``output``), returned once
    ``signal_file`` exists; fails the test with the output's end if the run ends or
    ``seconds`` pass first."""
    with open(output, 'wb') as out:
        process = subprocess.Popen([sys.executable, '-c', script], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + seconds
    while not signal_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f'the run never reached the save: {output.read_text()[-3000:]}')
        time.sleep(0.05)
    return process
